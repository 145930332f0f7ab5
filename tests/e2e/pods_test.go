package e2e

// End-to-end tests of pod offloading (issue 6; Liqo v0.8 behaviour §1.3, §2.5, §3.6):
// pods bound to the virtual node run in the foreign cluster (kwok makes them Running
// there) and their status comes back home.  Each test starts its own agent on the shared
// virtual node name; run them alone or with the suite (`make e2e E2E_RUN=TestPods`).

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const podsTimeout = 60 * time.Second

func int32p(v int32) *int32 { return &v }

// podsDeployment is a Deployment whose pods go to the virtual node only.
func podsDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: int32p(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"liqo.io/type": "virtual-node"},
					Tolerations: []corev1.Toleration{{Key: "virtual-node.liqo.io/not-allowed",
						Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
					Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: mustQuantity("10m"), corev1.ResourceMemory: mustQuantity("16Mi")}}}},
				},
			},
		},
	}
}

// podsStart prepares the node and the namespace (offloaded with --offload) and starts an
// agent with extra flags; it returns the home and remote namespace names.
func podsStart(t *testing.T, extra ...string) (*Liqolet, string, string) {
	t.Helper()
	id := offIdentities(t)
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	ns := "p-" + offRand(6)
	offForeignCleanup(t, id, ns)
	offNamespace(t, tb.Home, ns)
	l := offStartAgent(t, append([]string{"--offload", ns}, extra...)...)
	remote := id.defaultName(ns)
	offWaitRemote(t, l, id, remote, ns)
	// A test-bed precondition, not the agent's: the foreign admission refuses pods until
	// the foreign controller-manager has given the new remote namespace its default
	// ServiceAccount, which can take tens of seconds right after an outage test while the
	// controller-manager's watches come back (the agent retries meanwhile). Waiting here
	// keeps each test's own deadlines about the agent.
	Eventually(t, 2*time.Minute, "default ServiceAccount of the remote namespace "+remote,
		func(ctx context.Context) (bool, error) {
			_, err := tb.Foreign.Client.CoreV1().ServiceAccounts(remote).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, ignoreNotFound(err)
		})
	waitVirtualNode(t, l, vnodeAppear, "Ready", vnExistsAndReady)
	return l, ns, remote
}

func podsList(ctx context.Context, c *Cluster, ns, sel string) ([]corev1.Pod, error) {
	l, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

// podsInSync checks every home pod of sel runs remotely with the status reflected (phase,
// Ready, pod IPs, no liqo.io/remote-unavailable label) and each remote pod is the one the
// forge makes for that home pod (podsRemoteMismatch): ownership labels and home-pod-uid
// of this pair, the spec rules, hostIP = the virtual node's InternalIP. Other tests call
// it too: keep its signature.
func podsInSync(ctx context.Context, ns, remote, sel string, n int, reflectIPs bool) (string, error) {
	homeID, foreignID, err := clusterIDs(ctx)
	if err != nil {
		return "", err
	}
	nodeIP, err := nodeInternalIP(ctx, vnodeName)
	if err != nil {
		return "", err
	}
	home, err := podsList(ctx, tb.Home, ns, sel)
	if err != nil {
		return "", err
	}
	rem, err := podsList(ctx, tb.Foreign, remote, sel)
	if err != nil {
		return "", err
	}
	if len(home) != n || len(rem) != n {
		return fmt.Sprintf("%d home pods, %d remote pods, want %d", len(home), len(rem), n), nil
	}
	byName := map[string]corev1.Pod{}
	for _, p := range rem {
		byName[p.Name] = p
	}
	for _, h := range home {
		r, ok := byName[h.Name]
		switch {
		case !ok:
			return "no remote pod for " + h.Name, nil
		case h.Spec.NodeName != vnodeName:
			return h.Name + " is on node " + h.Spec.NodeName, nil
		case r.Status.Phase != corev1.PodRunning:
			return fmt.Sprintf("remote %s is %s", r.Name, r.Status.Phase), nil
		case h.Status.Phase != corev1.PodRunning:
			return fmt.Sprintf("home %s is %s", h.Name, h.Status.Phase), nil
		case h.Labels["liqo.io/shadowPod"] != "true":
			return "home " + h.Name + " has no liqo.io/shadowPod label", nil
		case h.Status.HostIP != nodeIP:
			return fmt.Sprintf("home %s hostIP %q, want the virtual node's InternalIP %q", h.Name, h.Status.HostIP, nodeIP), nil
		case podReady(&h) != podReady(&r):
			return fmt.Sprintf("home %s Ready %v, remote Ready %v", h.Name, podReady(&h), podReady(&r)), nil
		case h.Labels["liqo.io/remote-unavailable"] != "":
			return fmt.Sprintf("home %s is labelled liqo.io/remote-unavailable=%s", h.Name, h.Labels["liqo.io/remote-unavailable"]), nil
		}
		if why := podsRemoteMismatch(&h, &r, homeID, foreignID); why != "" {
			return why, nil
		}
		if reflectIPs && (h.Status.PodIP == "" || h.Status.PodIP != r.Status.PodIP) {
			return fmt.Sprintf("home %s podIP %q, remote %q", h.Name, h.Status.PodIP, r.Status.PodIP), nil
		}
		if !reflectIPs && (h.Status.PodIP != "" || len(h.Status.PodIPs) != 0) {
			return fmt.Sprintf("home %s shows pod IP %q with reflectIPs=false", h.Name, h.Status.PodIP), nil
		}
		if !reflectIPs && r.Status.PodIP == "" { // else there was nothing to hide
			return fmt.Sprintf("remote %s has no pod IP yet", r.Name), nil
		}
	}
	return "", nil
}

// podsToleration renders a toleration for comparisons.
func podsToleration(t corev1.Toleration) string {
	s := "<nil>"
	if t.TolerationSeconds != nil {
		s = strconv.FormatInt(*t.TolerationSeconds, 10)
	}
	return fmt.Sprintf("%s/%s/%s/%s/%s", t.Key, t.Operator, t.Value, t.Effect, s)
}

// podsRemoteMismatch says how remote pod r differs from what the pod forge makes of home
// pod h for the pair (homeID, foreignID) (src/forge/pod.c, Liqo v0.8 §1.3), "" if it does
// not: the ownership labels origin = home id and destination = foreign id; annotation
// liqolet.io/home-pod-uid = the home pod's UID; containers and init containers with the
// same names and images in the same order; the same restartPolicy; the service account
// token not mounted (automountServiceAccountToken false), no host namespaces; no
// nodeSelector and not bound to the virtual node (the foreign scheduler places it); the
// home tolerations without the virtual node's (the foreign admission adds none: the
// copied not-ready/unreachable ones already satisfy it).
func podsRemoteMismatch(h, r *corev1.Pod, homeID, foreignID string) string {
	rn := "remote " + r.Namespace + "/" + r.Name
	switch {
	case r.Labels[offOrigin] != homeID:
		return fmt.Sprintf("%s: label %s=%q, want the home cluster id %q", rn, offOrigin, r.Labels[offOrigin], homeID)
	case r.Labels[offDestination] != foreignID:
		return fmt.Sprintf("%s: label %s=%q, want the foreign cluster id %q", rn, offDestination, r.Labels[offDestination], foreignID)
	case r.Annotations["liqolet.io/home-pod-uid"] != string(h.UID):
		return fmt.Sprintf("%s: annotation liqolet.io/home-pod-uid=%q, want the home pod's UID %q", rn, r.Annotations["liqolet.io/home-pod-uid"], h.UID)
	case r.Spec.AutomountServiceAccountToken == nil || *r.Spec.AutomountServiceAccountToken:
		return rn + ": automountServiceAccountToken is not false"
	case r.Spec.HostNetwork || r.Spec.HostPID || r.Spec.HostIPC:
		return rn + ": uses a host namespace"
	case len(r.Spec.NodeSelector) != 0:
		return fmt.Sprintf("%s: nodeSelector %v, want none", rn, r.Spec.NodeSelector)
	case r.Spec.NodeName == vnodeName || r.Spec.NodeName == h.Spec.NodeName:
		return fmt.Sprintf("%s: nodeName %q is the home node's", rn, r.Spec.NodeName)
	case r.Spec.RestartPolicy != h.Spec.RestartPolicy:
		return fmt.Sprintf("%s: restartPolicy %s, home %s", rn, r.Spec.RestartPolicy, h.Spec.RestartPolicy)
	}
	same := func(what string, a, b []corev1.Container) string {
		if len(a) != len(b) {
			return fmt.Sprintf("%s: %d %s, home %d", rn, len(b), what, len(a))
		}
		for i := range a {
			if a[i].Name != b[i].Name || a[i].Image != b[i].Image {
				return fmt.Sprintf("%s: %s[%d] %s (%s), home %s (%s)", rn, what, i, b[i].Name, b[i].Image, a[i].Name, a[i].Image)
			}
		}
		return ""
	}
	if why := same("containers", h.Spec.Containers, r.Spec.Containers); why != "" {
		return why
	}
	if why := same("initContainers", h.Spec.InitContainers, r.Spec.InitContainers); why != "" {
		return why
	}
	var want, got []string
	for _, t := range h.Spec.Tolerations {
		if t.Key != vnodeTaintKey {
			want = append(want, podsToleration(t))
		}
	}
	for _, t := range r.Spec.Tolerations {
		if t.Key == vnodeTaintKey {
			return rn + ": still tolerates the virtual node's taint " + vnodeTaintKey
		}
		got = append(got, podsToleration(t))
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, " ") != strings.Join(got, " ") {
		return fmt.Sprintf("%s: tolerations %v, want the home ones without the virtual node's: %v", rn, got, want)
	}
	return ""
}

func podsWaitSync(t *testing.T, l *Liqolet, ns, remote, sel string, n int, reflectIPs bool, what string) {
	t.Helper()
	var why string
	deadline := time.Now().Add(podsTimeout)
	for time.Now().Before(deadline) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v) while waiting for %s:\n%s", err, what, tail(l.LogPath, 40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w, err := podsInSync(ctx, ns, remote, sel, n, reflectIPs)
		cancel()
		if err == nil && w == "" {
			return
		}
		if err != nil {
			why = err.Error()
		} else {
			why = w
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: not in sync within %s: %s", what, podsTimeout, why)
}

// A 3-replica Deployment runs in the foreign cluster and shows Running at home with the
// foreign pod IPs; a deleted remote pod is re-created with the restart count raised;
// scaling to zero removes the remote pods.
func TestPodsDeployment(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsWaitSync(t, l, ns, remote, "app=web", 3, true, "3 replicas")

	t.Run("RemotePodDeletedIsRecreated", func(t *testing.T) {
		rem, err := podsList(ctx, tb.Foreign, remote, "app=web")
		if err != nil || len(rem) == 0 {
			t.Fatalf("remote pods: %v (%d)", err, len(rem))
		}
		victim := rem[0]
		if err := tb.Foreign.Client.CoreV1().Pods(remote).Delete(ctx, victim.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		Eventually(t, podsTimeout, "remote pod "+victim.Name+" re-created and the home restart count raised", func(ctx context.Context) (bool, error) {
			r, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, victim.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil || r.UID == victim.UID || r.Status.Phase != corev1.PodRunning {
				return false, err
			}
			h, err := tb.Home.Client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return len(h.Status.ContainerStatuses) == 1 && h.Status.ContainerStatuses[0].RestartCount >= 1 &&
				h.Status.PodIP == r.Status.PodIP, nil
		})
	})

	t.Run("ScaleToZeroRemovesRemotePods", func(t *testing.T) {
		d, err := tb.Home.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.Spec.Replicas = int32p(0)
		if _, err := tb.Home.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		Eventually(t, podsTimeout, "home and remote pods gone", func(ctx context.Context) (bool, error) {
			h, err := podsList(ctx, tb.Home, ns, "app=web")
			if err != nil {
				return false, err
			}
			r, err := podsList(ctx, tb.Foreign, remote, "app=web")
			if err != nil {
				return false, err
			}
			return len(h) == 0 && len(r) == 0, nil
		})
	})
}

// With networking.reflectIPs=false the home pods run but show no pod IP.
func TestPodsReflectIPsFalse(t *testing.T) {
	l, ns, remote := podsStart(t, "--set", "networking.reflectIPs=false")
	ctx := ctxFor(t, 2*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("hidden", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsWaitSync(t, l, ns, remote, "app=hidden", 2, false, "2 replicas without IPs")
}

// A pod forced onto the virtual node in a namespace that is not offloaded is held
// Pending with reason OffloadingBackOff (§3.6), and nothing is created remotely.
func TestPodsNotOffloadedNamespaceBacksOff(t *testing.T) {
	l, _, _ := podsStart(t)
	other := "p-x-" + offRand(5)
	offNamespace(t, tb.Home, other)
	ctx := ctxFor(t, 2*time.Minute)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray"}, Spec: corev1.PodSpec{
		NodeName:    vnodeName,
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Containers:  []corev1.Container{{Name: "c", Image: "registry.example/c:1"}},
	}}
	if _, err := tb.Home.Client.CoreV1().Pods(other).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "pod "+other+"/stray Pending with reason OffloadingBackOff", func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v)", err)
		}
		p, err := tb.Home.Client.CoreV1().Pods(other).Get(ctx, "stray", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.Status.Phase == corev1.PodPending && p.Status.Reason == "OffloadingBackOff", nil
	})
	id := offIdentities(t)
	// Every foreign pod, labelled or not: none for the stray pod, and no remote namespace
	// for the namespace that is not offloaded.
	l2, err := tb.Foreign.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l2.Items {
		if p.Name == "stray" || strings.HasPrefix(p.Namespace, other) {
			t.Fatalf("a remote pod %s/%s exists for a namespace that is not offloaded", p.Namespace, p.Name)
		}
	}
	if got := offRemoteFor(t, id, other); len(got) != 0 {
		t.Fatalf("remote namespaces %v exist for %s, which is not offloaded", got, other)
	}
	p, err := tb.Home.Client.CoreV1().Pods(other).Get(ctx, "stray", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.PodIP != "" || p.Labels["liqo.io/shadowPod"] == "true" {
		t.Fatalf("the stray pod looks offloaded: podIP %q, labels %v", p.Status.PodIP, p.Labels)
	}
	// Delete it: with no kubelet, the agent finishes the deletion (grace 0).
	if err := tb.Home.Client.CoreV1().Pods(other).Delete(ctx, "stray", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "pod "+other+"/stray deleted", func(ctx context.Context) (bool, error) {
		_, err := tb.Home.Client.CoreV1().Pods(other).Get(ctx, "stray", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// podsVirtualNodePod is a bare pod for the virtual node (its nodeSelector and toleration).
func podsVirtualNodePod(name string, labels map[string]string, restart corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.PodSpec{
		RestartPolicy: restart,
		NodeSelector:  map[string]string{"liqo.io/type": "virtual-node"},
		Tolerations: []corev1.Toleration{{Key: vnodeTaintKey,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
		Containers: []corev1.Container{{Name: "c", Image: "registry.example/" + name + ":1"}},
	}}
}

// podsJobWindow is how long a finished pod's deleted remote copy must stay gone. Pod
// passes are event-driven (no periodic resync, DESIGN.md Decision 4): the deletion's
// watch event is handled within about a second (the control pod deleted at the same
// moment is re-created first), the test then touches the home pod to force one more
// pass, and a pass that failed is retried with a backoff capped at 30 s
// (RETRY_MAX_MS in src/reflect/pods.c). 35 s covers one full capped retry after the
// forced pass and three of the virtual node's 10 s lease/ping cycles.
const podsJobWindow = 35 * time.Second

// A Job's pod completes remotely and shows Succeeded at home; the Job completes. Its
// remote pod (Succeeded: the test bed's kwok stage tools/testbed-kwok-pod-complete.yaml
// finishes a Running pod with restartPolicy Never or OnFailure after 1 s) is then deleted
// in the foreign cluster together with the remote pod of a running control pod: the
// control's is re-created, the finished one's is not (Liqo §1.3), for podsJobWindow,
// and the home pod stays Succeeded.
func TestPodsJobSucceeds(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 4*time.Minute)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "once"}, Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: podsVirtualNodePod("job", nil, corev1.RestartPolicyNever).Spec},
	}}
	if _, err := tb.Home.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	keeper := podsVirtualNodePod("keeper", map[string]string{"app": "keeper"}, corev1.RestartPolicyAlways)
	if _, err := tb.Home.Client.CoreV1().Pods(ns).Create(ctx, keeper, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var home corev1.Pod
	var rjob *corev1.Pod
	Eventually(t, podsTimeout, "the Job's home pod Succeeded (remote pod Succeeded)", func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v)", err)
		}
		h, err := podsList(ctx, tb.Home, ns, "job-name=once")
		if err != nil || len(h) != 1 {
			return false, err
		}
		r, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, h[0].Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		home, rjob = h[0], r
		return r.Status.Phase == corev1.PodSucceeded && h[0].Status.Phase == corev1.PodSucceeded, nil
	})
	if r := rjob.Annotations["liqolet.io/home-pod-uid"]; r != string(home.UID) {
		t.Fatalf("remote pod %s carries home-pod-uid %q, want %q", rjob.Name, r, home.UID)
	}
	Eventually(t, podsTimeout, "Job complete at home", func(ctx context.Context) (bool, error) {
		j, err := tb.Home.Client.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1 && j.Status.Failed == 0, err
	})
	podsWaitSync(t, l, ns, remote, "app=keeper", 1, true, "the control pod")
	rkeep, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, "keeper", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Both remote pods deleted at once (grace 0, as a foreign admin or node loss would).
	for _, p := range []*corev1.Pod{rjob, rkeep} {
		err := tb.Foreign.Client.CoreV1().Pods(remote).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil {
			t.Fatalf("delete remote pod %s: %v", p.Name, err)
		}
	}
	deleted := time.Now()
	// The control case: a running pod's remote copy is re-created (so this agent does
	// see the deletions and would re-create the finished one if it were going to).
	Eventually(t, podsTimeout, "the control pod's remote copy re-created", func(ctx context.Context) (bool, error) {
		r, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, "keeper", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && r.UID != rkeep.UID, err
	})
	t.Logf("control pod re-created remotely %v after the deletion", time.Since(deleted).Round(100*time.Millisecond))
	podsWaitSync(t, l, ns, remote, "app=keeper", 1, true, "the control pod after its re-creation")

	// One more pass of the finished pod's record: a change of the home pod.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e.liqolet.io/touched":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := tb.Home.Client.CoreV1().Pods(ns).Patch(ctx, home.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("touch home pod %s: %v", home.Name, err)
	}
	until := time.Now().Add(podsJobWindow)
	for checks := 0; time.Now().Before(until); checks++ {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v)", err)
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(c, home.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			cancel()
			t.Fatalf("the finished pod's remote copy %s was re-created (uid %s, %v after the deletion): %s is Succeeded at home",
				home.Name, r.UID, time.Since(deleted).Round(100*time.Millisecond), home.Name)
		case !apierrors.IsNotFound(err):
			cancel()
			t.Fatalf("get remote pod %s: %v", home.Name, err)
		}
		h, err := tb.Home.Client.CoreV1().Pods(ns).Get(c, home.Name, metav1.GetOptions{})
		cancel()
		if err != nil {
			t.Fatalf("home pod %s: %v", home.Name, err)
		}
		if h.UID != home.UID || h.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("home pod %s changed after its remote copy was deleted: uid %s -> %s, phase %s (%s)",
				home.Name, home.UID, h.UID, h.Status.Phase, h.Status.Reason)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if rem, err := podsList(ctx, tb.Foreign, remote, "job-name=once"); err != nil || len(rem) != 0 {
		t.Fatalf("remote pods of the Job after %v: %d (%v)", podsJobWindow, len(rem), err)
	}
	j, err := tb.Home.Client.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 1 || j.Status.Failed != 0 || j.Status.Active != 0 {
		t.Fatalf("Job after the window: succeeded %d, failed %d, active %d", j.Status.Succeeded, j.Status.Failed, j.Status.Active)
	}
}

// podsCheckConverged says what is wrong if the foreign namespace holds a pod that no home pod
// (by name and uid annotation) accounts for, or a home pod has no remote pod.
func podsCheckConverged(ctx context.Context, ns, remote, sel string, n int) (string, error) {
	home, err := podsList(ctx, tb.Home, ns, sel)
	if err != nil {
		return "", err
	}
	rem, err := podsList(ctx, tb.Foreign, remote, sel)
	if err != nil {
		return "", err
	}
	uids := map[string]string{}
	for _, h := range home {
		if h.DeletionTimestamp != nil {
			return "home pod " + h.Name + " still terminating", nil
		}
		uids[h.Name] = string(h.UID)
	}
	for _, r := range rem {
		if uids[r.Name] == "" {
			return "orphan remote pod " + r.Name, nil
		}
		if r.Annotations["liqolet.io/home-pod-uid"] != uids[r.Name] {
			return "remote pod " + r.Name + " belongs to another home pod", nil
		}
	}
	if len(home) != n || len(rem) != n {
		return fmt.Sprintf("%d home, %d remote pods, want %d", len(home), len(rem), n), nil
	}
	return podsInSync(ctx, ns, remote, sel, n, true)
}

// liqolet killed with SIGKILL in the middle of a 50-pod rollout, then restarted,
// converges: every home pod runs remotely, no duplicate, no orphan.
func TestPodsRestartDuringRollout(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 4*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("roll", 50), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "some remote pods created", func(ctx context.Context) (bool, error) {
		r, err := podsList(ctx, tb.Foreign, remote, "app=roll")
		return err == nil && len(r) >= 5, err
	})
	if err := l.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for done, _ := l.Exited(); !done; done, _ = l.Exited() {
		time.Sleep(50 * time.Millisecond)
	}
	r, err := podsList(ctx, tb.Foreign, remote, "app=roll")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d of 50 remote pods created", len(r))
	if len(r) >= 50 {
		t.Fatalf("the rollout had finished before the kill (%d remote pods): the restart was not in the middle of it", len(r))
	}
	// The lock Lease of the killed agent must expire before the new one starts.
	l2 := offStartAgent(t, "--offload", ns)
	podsWaitConverged(t, l2, ns, remote, "app=roll", 50, "after the restart")
}

// podsWaitConverged waits up to 3 minutes for podsCheckConverged.
func podsWaitConverged(t *testing.T, l *Liqolet, ns, remote, sel string, n int, what string) {
	t.Helper()
	var why string
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v):\n%s", err, tail(l.LogPath, 40))
		}
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w, err := podsCheckConverged(c, ns, remote, sel, n)
		cancel()
		if err == nil && w == "" {
			return
		}
		if err != nil {
			why = err.Error()
		} else {
			why = w
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("not converged %s: %s", what, why)
}

// The foreign API server stopped in the middle of a rollout and started again: every
// pod ends in sync.
func TestPodsForeignOutageDuringRollout(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 4*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("out", 10), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := tb.Run("stop-apiserver", "foreign"); err != nil {
		t.Fatalf("stop the foreign API server: %v\n%s", err, out)
	}
	restarted := false
	defer func() {
		if !restarted {
			_, _ = tb.Run("start-apiserver", "foreign")
		}
	}()
	d, err := tb.Home.Client.AppsV1().Deployments(ns).Get(ctx, "out", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = int32p(20)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Fatalf("start the foreign API server: %v\n%s", err, out)
	}
	restarted = true
	podsWaitConverged(t, l, ns, remote, "app=out", 20, "after the foreign outage")
}

// With node.maxPods = (pods already on the node) + 3 the node offers that many pods; 5
// pods bound to it directly overflow the pod table: 3 are reflected, the others wait (log line), and are reflected once two of
// the first ones are deleted.
func TestPodsTableFullRecovers(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 3*time.Minute)
	// Pods of other namespaces already on the node (e.g. the demo's) take records too:
	// size the table as they plus 3, with a second agent.
	// Leftovers of earlier tests are being deleted (their namespaces first, then their
	// pods, by the agent): wait until no test namespace and no pod on the node is
	// terminating and the count holds still for 2 s.
	var others []corev1.Pod
	last := -1
	Eventually(t, podsTimeout, "the other pods on the node settle", func(ctx context.Context) (bool, error) {
		nss, err := tb.Home.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: labelE2E})
		if err != nil {
			return false, err
		}
		for _, n := range nss.Items {
			if n.DeletionTimestamp != nil {
				last = -1
				return false, nil
			}
		}
		l, err := tb.Home.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + vnodeName})
		if err != nil {
			return false, err
		}
		for _, p := range l.Items {
			if p.DeletionTimestamp != nil {
				last = -1
				return false, nil
			}
		}
		stable := len(l.Items) == last
		last = len(l.Items)
		others = l.Items
		if !stable {
			time.Sleep(2 * time.Second)
		}
		return stable, nil
	})
	limit := len(others) + 3
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	l = offStartAgent(t, "--offload", ns, "--max-pods", strconv.Itoa(limit))
	waitVirtualNode(t, l, vnodeAppear, fmt.Sprintf("pods capacity %d", limit), func(n *corev1.Node) string {
		if q := n.Status.Capacity[corev1.ResourcePods]; q.Value() != int64(limit) {
			return "pods capacity " + q.String()
		}
		return ""
	})
	for i := 0; i < 5; i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("full-%d", i), Labels: map[string]string{"app": "full"}},
			Spec: corev1.PodSpec{NodeName: vnodeName,
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers:  []corev1.Container{{Name: "c", Image: "registry.example/c:1"}}}}
		if _, err := tb.Home.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitLog(t, l, "pod table full", 30*time.Second)
	var first []corev1.Pod
	Eventually(t, podsTimeout, "3 pods reflected", func(ctx context.Context) (bool, error) {
		r, err := podsList(ctx, tb.Foreign, remote, "app=full")
		first = r
		return err == nil && len(r) == 3, err
	})
	time.Sleep(2 * time.Second) // the table stays full: still 3
	if r, _ := podsList(ctx, tb.Foreign, remote, "app=full"); len(r) != 3 {
		t.Fatalf("%d remote pods with a table of 3", len(r))
	}
	for _, p := range first[:2] {
		if err := tb.Home.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	podsWaitSync(t, l, ns, remote, "app=full", 3, true, "the 3 remaining pods, 2 of them waiting before")
}

// podsEvents lists the home Events of pod ns/name.
func podsEvents(ctx context.Context, ns, name string) ([]corev1.Event, error) {
	l, err := tb.Home.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// A remote pod that cannot be scheduled in the foreign cluster (it fits the virtual node's
// total cpu but no single foreign node): the foreign scheduler's FailedScheduling event
// shows on the home pod, next to the agent's SuccessfulReflection.
func TestPodsRemoteEventsReflected(t *testing.T) {
	l, ns, _ := podsStart(t)
	ctx := ctxFor(t, 2*time.Minute)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "too-big"}, Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"liqo.io/type": "virtual-node"},
		Tolerations: []corev1.Toleration{{Key: "virtual-node.liqo.io/not-allowed",
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
		Containers: []corev1.Container{{Name: "c", Image: "registry.example/big:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("5")}}}},
	}}
	if _, err := tb.Home.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	Eventually(t, podsTimeout, "FailedScheduling (foreign) and SuccessfulReflection (agent) events on the home pod", func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v)", err)
		}
		evs, err := podsEvents(ctx, ns, "too-big")
		if err != nil {
			return false, err
		}
		seen = seen[:0]
		var failed, reflected bool
		for _, e := range evs {
			seen = append(seen, e.Reason+"/"+e.Source.Component)
			// the reflected copy: attributed to the foreign cluster ("[<foreign name>] ..."),
			// never the home scheduler's own event
			if e.Reason == "FailedScheduling" && e.Type == corev1.EventTypeWarning &&
				strings.HasPrefix(e.Message, "[") && strings.Contains(e.Message, "] ") &&
				strings.Contains(e.Message, "Insufficient cpu") {
				failed = true
			}
			if e.Reason == "SuccessfulReflection" && e.Source.Component == "liqo-pod-reflection" {
				reflected = true
			}
		}
		return failed && reflected, nil
	})
	t.Logf("events on the home pod: %v", seen)
	h, err := tb.Home.Client.CoreV1().Pods(ns).Get(ctx, "too-big", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Status.Phase != corev1.PodPending {
		t.Fatalf("home pod %s while the remote one cannot be scheduled", h.Status.Phase)
	}
}

// podsSquatter is what the conflict test remembers of a foreign pod that is not ours.
type podsSquatter struct {
	uid         string
	labels, ann map[string]string
	spec        corev1.PodSpec
}

func podsSnapshot(p *corev1.Pod) podsSquatter {
	return podsSquatter{uid: string(p.UID), labels: p.Labels, ann: p.Annotations, spec: *p.Spec.DeepCopy()}
}

// podsSquatterChanged says how the foreign pod name differs from snapshot s, "" if not.
func podsSquatterChanged(ctx context.Context, remote, name string, s podsSquatter) (string, error) {
	p, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "foreign pod " + name + " (not ours) was deleted", nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case string(p.UID) != s.uid:
		return fmt.Sprintf("foreign pod %s replaced: uid %s -> %s", name, s.uid, p.UID), nil
	case p.DeletionTimestamp != nil:
		return "foreign pod " + name + " (not ours) is being deleted", nil
	case !reflect.DeepEqual(p.Labels, s.labels):
		return fmt.Sprintf("foreign pod %s labels %v -> %v", name, s.labels, p.Labels), nil
	case !reflect.DeepEqual(p.Annotations, s.ann):
		return fmt.Sprintf("foreign pod %s annotations %v -> %v", name, s.ann, p.Annotations), nil
	case !reflect.DeepEqual(p.Spec, s.spec):
		return fmt.Sprintf("foreign pod %s spec changed:\n%+v\n->\n%+v", name, s.spec, p.Spec), nil
	}
	return "", nil
}

// podsConflictWindow is how long the squatters are watched once every home pod has its
// FailedReflection: the agent retries a record whose remote name is taken with a backoff
// from 0.5 s doubling (RETRY_BASE_MS in src/reflect/pods.c), so 15 s hold about five
// retries of each record, and the forged squatters' own watch events besides.
const podsConflictWindow = 15 * time.Second

// Pod-name ownership conflict (Liqo v0.8 §1.3, DESIGN.md Decision 17): foreign pods of
// the names of home pods exist in the remote namespace before those land on the virtual
// node: one plain, one with the pair's ownership labels forged, one with the labels and
// a forged liqolet.io/home-pod-uid. The agent leaves each alone (same uid, labels,
// annotations, spec), reports FailedReflection on the home pod, takes no status from it;
// deleting the home pod whose squatter forges everything deletes the home pod only; once
// the other squatters are deleted by their owner the agent creates its own copies.
func TestPodsNameConflictNotOurs(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	homeID, foreignID, err := clusterIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	squatLabels := map[string]map[string]string{
		"squat-plain":    {"conflict": "squatter"},
		"squat-labels":   {"conflict": "squatter", offOrigin: homeID, offDestination: foreignID},
		"squat-home-uid": {"conflict": "squatter", offOrigin: homeID, offDestination: foreignID},
	}
	names := []string{"squat-plain", "squat-labels", "squat-home-uid"}
	for _, name := range names {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: squatLabels[name]}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "mine", Image: "registry.example/squatter:1"}}}}
		if name == "squat-home-uid" {
			p.Annotations = map[string]string{"liqolet.io/home-pod-uid": "6b1a3f5e-0000-4000-8000-000000000000"}
		}
		if _, err := tb.Foreign.Client.CoreV1().Pods(remote).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create foreign pod %s: %v", name, err)
		}
	}
	snap := map[string]podsSquatter{}
	Eventually(t, podsTimeout, "the foreign squatters Running", func(ctx context.Context) (bool, error) {
		for _, name := range names {
			p, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, name, metav1.GetOptions{})
			if err != nil || p.Status.Phase != corev1.PodRunning {
				return false, err
			}
			snap[name] = podsSnapshot(p)
		}
		return true, nil
	})
	squatIP := map[string]string{}
	for _, name := range names {
		p, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		squatIP[name] = p.Status.PodIP
	}

	homeUID := map[string]string{}
	for _, name := range names {
		h, err := tb.Home.Client.CoreV1().Pods(ns).Create(ctx,
			podsVirtualNodePod(name, map[string]string{"conflict": "home"}, corev1.RestartPolicyAlways), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		homeUID[name] = string(h.UID)
	}
	for _, name := range names {
		var seen []string
		Eventually(t, podsTimeout, "Warning FailedReflection (already exists) on home pod "+name, func(ctx context.Context) (bool, error) {
			if done, err := l.Exited(); done {
				t.Fatalf("liqolet exited (%v)", err)
			}
			evs, err := podsEvents(ctx, ns, name)
			if err != nil {
				return false, err
			}
			seen = seen[:0]
			for _, e := range evs {
				seen = append(seen, e.Type+"/"+e.Reason+" "+e.Message)
				if e.Type == corev1.EventTypeWarning && e.Reason == "FailedReflection" &&
					string(e.InvolvedObject.UID) == homeUID[name] && strings.Contains(e.Message, "already exists") {
					return true, nil
				}
			}
			return false, fmt.Errorf("events: %v", seen)
		})
	}
	check := func(ctx context.Context, names ...string) (string, error) {
		for _, name := range names {
			if why, err := podsSquatterChanged(ctx, remote, name, snap[name]); why != "" || err != nil {
				return why, err
			}
			h, err := tb.Home.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return "", err
			}
			if h.Status.Phase != corev1.PodPending || h.Status.PodIP != "" || h.Labels["liqo.io/shadowPod"] == "true" {
				return fmt.Sprintf("home pod %s took the squatter's state: phase %s, podIP %q (squatter's %q), shadowPod %q",
					name, h.Status.Phase, h.Status.PodIP, squatIP[name], h.Labels["liqo.io/shadowPod"]), nil
			}
		}
		return "", nil
	}
	podsHold := func(d time.Duration, what string, names ...string) {
		t.Helper()
		until := time.Now().Add(d)
		for time.Now().Before(until) {
			if done, err := l.Exited(); done {
				t.Fatalf("liqolet exited (%v)", err)
			}
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			why, err := check(c, names...)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if why != "" {
				t.Fatalf("%s: %s", what, why)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	podsHold(podsConflictWindow, "while the names are taken", names...)

	// The home pod whose squatter forges everything is deleted: the agent, as its
	// kubelet, finishes the deletion at home and deletes nothing in the foreign cluster.
	if err := tb.Home.Client.CoreV1().Pods(ns).Delete(ctx, "squat-home-uid", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "home pod squat-home-uid deleted", func(ctx context.Context) (bool, error) {
		_, err := tb.Home.Client.CoreV1().Pods(ns).Get(ctx, "squat-home-uid", metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})
	podsHold(5*time.Second, "after the home pod squat-home-uid was deleted", names...)

	// Their owner deletes the two other squatters: the agent creates its own copies.
	for _, name := range []string{"squat-plain", "squat-labels"} {
		uid := types.UID(snap[name].uid)
		if err := tb.Foreign.Client.CoreV1().Pods(remote).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
			t.Fatal(err)
		}
	}
	gone := time.Now()
	podsWaitSync(t, l, ns, remote, "conflict=home", 2, true, "the agent's own copies once the squatters are gone")
	t.Logf("the agent's copies in sync %v after the squatters were deleted", time.Since(gone).Round(100*time.Millisecond))
	for _, name := range []string{"squat-plain", "squat-labels"} {
		r, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(r.UID) == snap[name].uid || r.Labels["conflict"] != "home" || r.Spec.Containers[0].Image != "registry.example/"+name+":1" {
			t.Fatalf("remote pod %s is not the agent's copy: uid %s, labels %v, image %s", name, r.UID, r.Labels, r.Spec.Containers[0].Image)
		}
	}
	if why, err := podsSquatterChanged(ctx, remote, "squat-home-uid", snap["squat-home-uid"]); why != "" || err != nil {
		t.Fatalf("at the end: %s %v", why, err)
	}
}
