// direct: a direct client, a peer of `make bench-peers` (tools/bench-peers/README.md), the
// floor for latency.
//
// No virtual-kubelet library: an informer on the home pods bound to BENCH_NODE in
// BENCH_NAMESPACE, one on the remote pods, and two work queues served by many workers with
// no client-side rate limit to speak of. A home pod without a remote one is created remotely;
// a remote pod whose status differs from the home pod's is patched into the home pod's status
// subresource; a home pod marked for deletion has its remote pod deleted and is then removed
// (grace 0, as a kubelet does once its containers stopped). It registers a plain Node with a
// Ready condition and renews its Lease, so that the home cluster keeps the node Ready.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

const (
	leaseNS      = "kube-node-lease"
	leaseSeconds = 40
	leaseRenew   = 5 * time.Second
	workers      = 32 // per queue
)

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "direct %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
}

func die(format string, a ...any) {
	logf(format, a...)
	os.Exit(1)
}

func env(k string) string {
	v := os.Getenv(k)
	if v == "" {
		die("%s is not set", k)
	}
	return v
}

func client(kubeconfig string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		die("kubeconfig %s: %v", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 10000, 20000 // as fast as the API servers allow
	cfg.UserAgent = "bench-direct"
	return kubernetes.NewForConfigOrDie(cfg)
}

type agent struct {
	home, foreign    kubernetes.Interface
	homeNS, remoteNS string
	homePods         corev1listers.PodNamespaceLister
	remotePods       corev1listers.PodNamespaceLister
	create           workqueue.TypedRateLimitingInterface[string] // home side: create / delete remote
	status           workqueue.TypedRateLimitingInterface[string] // remote side: status to home
}

func remotePod(p *corev1.Pod, ns string) *corev1.Pod {
	strip := func(cs []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, len(cs))
		for i, c := range cs {
			c.VolumeMounts, c.VolumeDevices = nil, nil
			out[i] = c
		}
		return out
	}
	no := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns, Labels: p.Labels,
			Annotations: map[string]string{"bench-peers/origin": p.Namespace + "/" + p.Name}},
		Spec: corev1.PodSpec{
			Containers:                    strip(p.Spec.Containers),
			InitContainers:                strip(p.Spec.InitContainers),
			RestartPolicy:                 p.Spec.RestartPolicy,
			TerminationGracePeriodSeconds: p.Spec.TerminationGracePeriodSeconds,
			Tolerations:                   p.Spec.Tolerations,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
		},
	}
}

func key(obj any) string {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		return p.Name
	}
	return ""
}

// syncHome makes the remote side follow home pod name.
func (a *agent) syncHome(ctx context.Context, name string) error {
	h, err := a.homePods.Get(name)
	if apierrors.IsNotFound(err) {
		h = nil
	} else if err != nil {
		return err
	}
	zero := int64(0)
	if h == nil || h.DeletionTimestamp != nil {
		if _, err := a.remotePods.Get(name); err == nil {
			err = a.foreign.CoreV1().Pods(a.remoteNS).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		if h != nil {
			err = a.home.CoreV1().Pods(a.homeNS).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
				Preconditions: metav1.NewUIDPreconditions(string(h.UID))})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return err
			}
		}
		return nil
	}
	if h.Status.Phase == corev1.PodSucceeded || h.Status.Phase == corev1.PodFailed {
		return nil
	}
	if _, err := a.remotePods.Get(name); err == nil {
		return nil
	}
	_, err = a.foreign.CoreV1().Pods(a.remoteNS).Create(ctx, remotePod(h, a.remoteNS), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// syncStatus copies the remote pod's status to the home pod when they differ.
func (a *agent) syncStatus(ctx context.Context, name string) error {
	r, err := a.remotePods.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	h, err := a.homePods.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if h.DeletionTimestamp != nil || reflect.DeepEqual(h.Status, r.Status) {
		return nil
	}
	body, err := json.Marshal(map[string]any{"status": r.Status})
	if err != nil {
		return err
	}
	_, err = a.home.CoreV1().Pods(a.homeNS).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func serve(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], f func(context.Context, string) error) {
	for {
		k, quit := q.Get()
		if quit {
			return
		}
		if err := f(ctx, k); err != nil {
			if q.NumRequeues(k) < 10 {
				q.AddRateLimited(k)
			} else {
				logf("%s: giving up: %v", k, err)
				q.Forget(k)
			}
		} else {
			q.Forget(k)
		}
		q.Done(k)
	}
}

func registerNode(ctx context.Context, home kubernetes.Interface, name string) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("128"),
		corev1.ResourceMemory: resource.MustParse("512Gi"),
		corev1.ResourcePods:   resource.MustParse("2000"),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"type": "virtual-kubelet", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
			"bench-peers/peer": "direct"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "virtual-node.liqo.io/not-allowed", Value: "true",
			Effect: corev1.TaintEffectNoExecute}}},
	}
	if _, err := home.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The controller-manager writes the new Node too (its pod CIDR): retry on conflicts.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := home.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		n.Status = corev1.NodeStatus{
			Capacity: res, Allocatable: res,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: now, LastTransitionTime: now}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v0.0.0-direct", OperatingSystem: "linux", Architecture: "amd64"},
		}
		_, err = home.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// leaseLoop creates and renews the node's Lease (the home cluster's heartbeat).
func leaseLoop(ctx context.Context, home kubernetes.Interface, node *corev1.Node) {
	leases := home.CoordinationV1().Leases(leaseNS)
	dur := int32(leaseSeconds)
	for ctx.Err() == nil {
		now := metav1.NewMicroTime(time.Now())
		l, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: node.Name, OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &node.Name, LeaseDurationSeconds: &dur, RenewTime: &now}},
				metav1.CreateOptions{})
		case err == nil:
			l.Spec.RenewTime = &now
			_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			logf("lease: %v", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(leaseRenew):
		}
	}
}

func main() {
	homeCS := client(env("BENCH_HOME_KUBECONFIG"))
	foreignCS := client(env("BENCH_FOREIGN_KUBECONFIG"))
	nodeName, homeNS := env("BENCH_NODE"), env("BENCH_NAMESPACE")
	remoteNS := homeNS + "-direct"

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	fmt.Printf("pid %d direct\n", os.Getpid())
	fmt.Printf("remote-namespace %s\n", remoteNS)

	if _, err := foreignCS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: remoteNS,
		Labels: map[string]string{"bench-peers/peer": "direct"}}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		die("create remote namespace %s: %v", remoteNS, err)
	}
	for {
		if _, err := foreignCS.CoreV1().ServiceAccounts(remoteNS).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	if err := registerNode(ctx, homeCS, nodeName); err != nil {
		die("register node %s: %v", nodeName, err)
	}
	node, err := homeCS.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		die("node %s: %v", nodeName, err)
	}
	go leaseLoop(ctx, homeCS, node)

	hInf := informers.NewSharedInformerFactoryWithOptions(homeCS, 0, informers.WithNamespace(homeNS),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}))
	fInf := informers.NewSharedInformerFactoryWithOptions(foreignCS, 0, informers.WithNamespace(remoteNS))
	a := &agent{home: homeCS, foreign: foreignCS, homeNS: homeNS, remoteNS: remoteNS,
		homePods:   hInf.Core().V1().Pods().Lister().Pods(homeNS),
		remotePods: fInf.Core().V1().Pods().Lister().Pods(remoteNS),
		create: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "create"}),
		status: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "status"}),
	}
	enqueue := func(q workqueue.TypedRateLimitingInterface[string]) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { q.Add(key(o)) },
			UpdateFunc: func(_, o any) { q.Add(key(o)) },
			DeleteFunc: func(o any) { q.Add(key(o)) },
		}
	}
	if _, err := hInf.Core().V1().Pods().Informer().AddEventHandler(enqueue(a.create)); err != nil {
		die("home handler: %v", err)
	}
	rh := enqueue(a.status)
	rh.DeleteFunc = func(o any) { a.create.Add(key(o)) } // a remote pod lost: the home side decides
	if _, err := fInf.Core().V1().Pods().Informer().AddEventHandler(rh); err != nil {
		die("remote handler: %v", err)
	}
	hInf.Start(ctx.Done())
	fInf.Start(ctx.Done())
	hInf.WaitForCacheSync(ctx.Done())
	fInf.WaitForCacheSync(ctx.Done())
	for i := 0; i < workers; i++ {
		go serve(ctx, a.create, a.syncHome)
		go serve(ctx, a.status, a.syncStatus)
	}
	fmt.Println("ready")

	s := <-sigs
	logf("%v: stopping", s)
	cancel()
	a.create.ShutDown()
	a.status.ShutDown()

	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := homeCS.CoreV1().Nodes().Delete(cctx, nodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logf("delete node: %v", err)
	}
	if err := homeCS.CoordinationV1().Leases(leaseNS).Delete(cctx, nodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logf("delete lease: %v", err)
	}
	if err := foreignCS.CoreV1().Namespaces().Delete(cctx, remoteNS, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logf("delete remote namespace: %v", err)
	}
}
