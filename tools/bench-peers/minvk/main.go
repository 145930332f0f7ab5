// minvk: the minimum Go virtual kubelet, a peer of `make bench-peers` (tools/bench-peers/README.md).
//
// virtual-kubelet v1.14.1's node controller (Node + Lease heartbeat) and pod controller, with a
// provider that does nothing but create each pod bound to the node in the foreign cluster (same
// name, in the remote namespace, stripped of what would keep it from running there), copy the
// remote pod's status back, and delete the remote pod when the home pod is deleted. It is the
// lower bound of any client-go-based agent: no ConfigMaps, Secrets, Services, volumes, logs or exec.
//
// Configuration comes from the bench-peers environment (BENCH_HOME_KUBECONFIG,
// BENCH_FOREIGN_KUBECONFIG, BENCH_NODE, BENCH_NAMESPACE); it prints `pid`, `remote-namespace` and
// `ready` on stdout and cleans up what it created on SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

const (
	leaseNS       = "kube-node-lease"
	leaseSeconds  = 40
	leaseRenew    = 5 * time.Second
	podSyncWorker = 10 // virtual-kubelet's own default (--pod-sync-workers)
)

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "minvk %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
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
	// client-go's default (5/s, burst 10) would measure the limiter, not the agent; the
	// test bed's controller-managers use 100/200, and so does this peer.
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "minvk"
	return kubernetes.NewForConfigOrDie(cfg)
}

// provider implements node.PodLifecycleHandler and node.PodNotifier.
type provider struct {
	foreign      kubernetes.Interface
	remoteNS     string
	remoteLister corev1listers.PodNamespaceLister

	mu     sync.Mutex
	home   map[string]*corev1.Pod // home pods handed to CreatePod, by name
	notify func(*corev1.Pod)
}

// remotePod is what the foreign cluster gets: the home pod's containers and scheduling
// tolerations, without what belongs to the home cluster (node, service account, volumes).
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

func (pr *provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	pr.mu.Lock()
	pr.home[pod.Name] = pod.DeepCopy()
	pr.mu.Unlock()
	_, err := pr.foreign.CoreV1().Pods(pr.remoteNS).Create(ctx, remotePod(pod, pr.remoteNS), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (pr *provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	pr.mu.Lock()
	pr.home[pod.Name] = pod.DeepCopy()
	pr.mu.Unlock()
	return nil
}

// DeletePod deletes the remote pod and reports a terminal status, after which the pod
// controller removes the home pod (a kubelet does the same once the containers stopped).
func (pr *provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := pr.foreign.CoreV1().Pods(pr.remoteNS).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	pr.mu.Lock()
	delete(pr.home, pod.Name)
	cb := pr.notify
	pr.mu.Unlock()
	done := pod.DeepCopy()
	now := metav1.Now()
	done.Status.Phase = corev1.PodSucceeded
	done.Status.Reason = "ProviderDeleted"
	for i := range done.Status.ContainerStatuses {
		cs := &done.Status.ContainerStatuses[i]
		cs.Ready = false
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: "ProviderDeleted", FinishedAt: now}}
	}
	if cb != nil {
		cb(done)
	}
	if apierrors.IsNotFound(err) {
		return errdefs.NotFound("remote pod not found")
	}
	return nil
}

// homeView is the remote pod as the pod controller expects it: the home pod with the
// remote status.
func (pr *provider) homeView(name string) (*corev1.Pod, error) {
	r, err := pr.remoteLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil, errdefs.NotFound("remote pod " + name + " not found")
	}
	if err != nil {
		return nil, err
	}
	pr.mu.Lock()
	h := pr.home[name]
	pr.mu.Unlock()
	if h == nil {
		return nil, errdefs.NotFound("pod " + name + " not handled by this node")
	}
	v := h.DeepCopy()
	v.Status = *r.Status.DeepCopy()
	return v, nil
}

func (pr *provider) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return pr.homeView(name)
}

func (pr *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	p, err := pr.homeView(name)
	if err != nil {
		return nil, err
	}
	return &p.Status, nil
}

func (pr *provider) GetPods(ctx context.Context) ([]*corev1.Pod, error) {
	pr.mu.Lock()
	names := make([]string, 0, len(pr.home))
	for n := range pr.home {
		names = append(names, n)
	}
	pr.mu.Unlock()
	var out []*corev1.Pod
	for _, n := range names {
		if p, err := pr.homeView(n); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func (pr *provider) NotifyPods(ctx context.Context, cb func(*corev1.Pod)) {
	pr.mu.Lock()
	pr.notify = cb
	pr.mu.Unlock()
}

// remoteChanged is the remote informer's handler: the new status goes to the pod controller.
func (pr *provider) remoteChanged(obj any) {
	r, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	p, err := pr.homeView(r.Name)
	if err != nil {
		return
	}
	pr.mu.Lock()
	cb := pr.notify
	pr.mu.Unlock()
	if cb != nil {
		cb(p)
	}
}

func virtualNode(name string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("128"),
		corev1.ResourceMemory: resource.MustParse("512Gi"),
		corev1.ResourcePods:   resource.MustParse("2000"),
	}
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"type": "virtual-kubelet", "kubernetes.io/role": "agent", "kubernetes.io/hostname": name,
			"kubernetes.io/os": "linux", "bench-peers/peer": "minvk"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "virtual-node.liqo.io/not-allowed", Value: "true",
			Effect: corev1.TaintEffectNoExecute}}},
		Status: corev1.NodeStatus{
			Capacity: res, Allocatable: res,
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
					LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
			},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "v1.14.1-minvk", OperatingSystem: "linux", Architecture: "amd64"},
			Phase:           corev1.NodeRunning,
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 0}},
		},
	}
}

func main() {
	homeCS := client(env("BENCH_HOME_KUBECONFIG"))
	foreignCS := client(env("BENCH_FOREIGN_KUBECONFIG"))
	nodeName, homeNS := env("BENCH_NODE"), env("BENCH_NAMESPACE")
	remoteNS := homeNS + "-minvk"

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	fmt.Printf("pid %d vk\n", os.Getpid())
	fmt.Printf("remote-namespace %s\n", remoteNS)

	// The remote namespace, and its default ServiceAccount (admission refuses pods before it).
	if _, err := foreignCS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: remoteNS,
		Labels: map[string]string{"bench-peers/peer": "minvk"}}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		die("create remote namespace %s: %v", remoteNS, err)
	}
	for {
		if _, err := foreignCS.CoreV1().ServiceAccounts(remoteNS).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Remote pods: one informer on the remote namespace.
	fInf := informers.NewSharedInformerFactoryWithOptions(foreignCS, 0, informers.WithNamespace(remoteNS))
	rInf := fInf.Core().V1().Pods()
	pr := &provider{foreign: foreignCS, remoteNS: remoteNS, remoteLister: rInf.Lister().Pods(remoteNS),
		home: map[string]*corev1.Pod{}}
	if _, err := rInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    pr.remoteChanged,
		UpdateFunc: func(_, n any) { pr.remoteChanged(n) },
	}); err != nil {
		die("remote handler: %v", err)
	}

	// Home: pods bound to the node; ConfigMaps, Secrets and Services of the namespace (the
	// pod controller requires their informers, for the downward API and service links).
	hPodInf := informers.NewSharedInformerFactoryWithOptions(homeCS, 0, informers.WithNamespace(homeNS),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}))
	hInf := informers.NewSharedInformerFactoryWithOptions(homeCS, 0, informers.WithNamespace(homeNS))

	bc := record.NewBroadcaster()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: homeCS.CoreV1().Events(homeNS)})
	rec := bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "minvk", Host: nodeName})

	pcc := node.PodControllerConfig{
		PodClient:         homeCS.CoreV1(),
		PodInformer:       hPodInf.Core().V1().Pods(),
		EventRecorder:     rec,
		Provider:          pr,
		ConfigMapInformer: hInf.Core().V1().ConfigMaps(),
		SecretInformer:    hInf.Core().V1().Secrets(),
		ServiceInformer:   hInf.Core().V1().Services(),
	}
	// The pod controller's queues default to client-go's controller rate limiter, whose
	// overall bucket lets 10 items/s through after a burst of 100: with it, status updates
	// of 110 pods queue for seconds whatever the API servers could take. A lower bound keeps
	// only the per-item back-off; MINVK_VK_DEFAULT_LIMITS=1 measures the library's defaults.
	if os.Getenv("MINVK_VK_DEFAULT_LIMITS") == "" {
		perItem := func() workqueue.TypedRateLimiter[any] {
			return workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 30*time.Second)
		}
		pcc.SyncPodsFromKubernetesRateLimiter = perItem()
		pcc.DeletePodsFromKubernetesRateLimiter = perItem()
		pcc.SyncPodStatusFromProviderRateLimiter = perItem()
	} else {
		logf("virtual-kubelet's default queue rate limits")
	}
	pc, err := node.NewPodController(pcc)
	if err != nil {
		die("pod controller: %v", err)
	}
	nc, err := node.NewNodeController(node.NewNaiveNodeProvider(), virtualNode(nodeName), homeCS.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1WithRenewInterval(homeCS.CoordinationV1().Leases(leaseNS), leaseSeconds, leaseRenew))
	if err != nil {
		die("node controller: %v", err)
	}

	fInf.Start(ctx.Done())
	hPodInf.Start(ctx.Done())
	hInf.Start(ctx.Done())
	fInf.WaitForCacheSync(ctx.Done())
	hInf.WaitForCacheSync(ctx.Done())

	errs := make(chan error, 2)
	go func() { errs <- nc.Run(ctx) }()
	go func() { errs <- pc.Run(ctx, podSyncWorker) }()
	go func() {
		<-nc.Ready()
		<-pc.Ready()
		// Ready at home: the Node exists with its Ready condition.
		for ctx.Err() == nil {
			n, err := homeCS.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
			if err == nil {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						fmt.Println("ready")
						return
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()

	select {
	case s := <-sigs:
		logf("%v: stopping", s)
	case err := <-errs:
		logf("controller ended: %v", err)
	}
	cancel()
	bc.Shutdown()
	cleanup(homeCS, foreignCS, nodeName, remoteNS)
}

// cleanup deletes what this peer created: the Node and its Lease at home, the remote namespace.
func cleanup(home, foreign kubernetes.Interface, nodeName, remoteNS string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := home.CoreV1().Nodes().Delete(ctx, nodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logf("delete node: %v", err)
	}
	if err := home.CoordinationV1().Leases(leaseNS).Delete(ctx, nodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logf("delete lease: %v", err)
	}
	if err := foreign.CoreV1().Namespaces().Delete(ctx, remoteNS, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logf("delete remote namespace: %v", err)
	}
}
