package e2e

// Pod fidelity (issue 16): remote unavailability marks, labels and annotations after
// creation, aborted pods, and the node address when the home API server is on loopback.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const remoteUnavailable = "liqo.io/remote-unavailable"

// fidPod is a bare pod bound to the virtual node (no controller re-creates it).
func fidPod(name string, labels, ann map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: ann},
		Spec: corev1.PodSpec{
			NodeName:    vnodeName,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:  []corev1.Container{{Name: "c", Image: "registry.example/c:1"}},
		},
	}
}

func podReadyStatus(p *corev1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return ""
}

// fidWaitRemote waits for the remote copy of home pod ns/name and returns it.
func fidWaitRemote(t *testing.T, l *Liqolet, remote, name string) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	Eventually(t, podsTimeout, "remote pod "+remote+"/"+name, func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v)", err)
		}
		p, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, ignoreNotFound(err)
		}
		got = p
		return true, nil
	})
	return got
}

// While the foreign API server is down, the pods that run there carry
// liqo.io/remote-unavailable=true and Ready False at home; both go when it is back, and
// the remote pods are the same objects as before (an outage touches nothing remotely).
func TestPodsRemoteUnavailable(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 6*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("ru", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsWaitSync(t, l, ns, remote, "app=ru", 2, true, "before the outage")
	before, err := podsList(ctx, tb.Foreign, remote, "app=ru")
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]types.UID{}
	for _, p := range before {
		uids[p.Name] = p.UID
	}
	// A home Service over them: its EndpointSlices follow the pods' Ready condition.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ru"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "ru"},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
	}}
	if _, err := tb.Home.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readyEndpoints := func(ctx context.Context) (int, int, error) {
		l, err := tb.Home.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=ru"})
		if err != nil {
			return 0, 0, err
		}
		ready, all := 0, 0
		for _, s := range l.Items {
			for _, e := range s.Endpoints {
				all++
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready, all, nil
	}
	Eventually(t, podsTimeout, "home Service ru has 2 ready endpoints", func(ctx context.Context) (bool, error) {
		r, a, err := readyEndpoints(ctx)
		return r == 2 && a == 2, err
	})
	// A pod on the node that does not run remotely (namespace not offloaded) is no
	// remote pod: it must not get the label.
	other := "p-ru-" + offRand(5)
	offNamespace(t, tb.Home, other)
	if _, err := tb.Home.Client.CoreV1().Pods(other).Create(ctx, fidPod("stray", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tb.Home.Client.CoreV1().Pods(other).Delete(context.Background(), "stray", *metav1.NewDeleteOptions(0))
	})

	if out, err := tb.Run("stop-apiserver", "foreign"); err != nil {
		t.Fatalf("stop the foreign API server: %v\n%s", err, out)
	}
	restarted := false
	defer func() {
		if !restarted {
			_, _ = tb.Run("start-apiserver", "foreign")
		}
	}()
	stopped := time.Now()
	// Two failed pings (10 s apart) make the cluster unavailable; the test bed's node
	// monitor grace is 20 s: 60 s leaves room for a loaded machine.
	Eventually(t, 60*time.Second, "home pods labelled "+remoteUnavailable+"=true and not Ready", func(ctx context.Context) (bool, error) {
		h, err := podsList(ctx, tb.Home, ns, "app=ru")
		if err != nil || len(h) != 2 {
			return false, err
		}
		for _, p := range h {
			if p.Labels[remoteUnavailable] != "true" || podReadyStatus(&p) != corev1.ConditionFalse {
				return false, nil
			}
		}
		return true, nil
	})
	t.Logf("marked %v after the foreign API server stopped", time.Since(stopped).Round(time.Second))
	Eventually(t, podsTimeout, "home Service ru routes to no endpoint", func(ctx context.Context) (bool, error) {
		r, a, err := readyEndpoints(ctx)
		return r == 0 && a == 2, err
	})
	if s, err := tb.Home.Client.CoreV1().Pods(other).Get(ctx, "stray", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if _, ok := s.Labels[remoteUnavailable]; ok {
		t.Errorf("pod %s/stray does not run remotely but got %s", other, remoteUnavailable)
	}

	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Fatalf("start the foreign API server: %v\n%s", err, out)
	}
	restarted = true
	Eventually(t, 2*time.Minute, "label gone and Ready as the remote pods say", func(ctx context.Context) (bool, error) {
		h, err := podsList(ctx, tb.Home, ns, "app=ru")
		if err != nil || len(h) != 2 {
			return false, err
		}
		for _, p := range h {
			r, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if _, ok := p.Labels[remoteUnavailable]; ok || podReadyStatus(&p) != podReadyStatus(r) || podReadyStatus(r) == "" {
				return false, nil
			}
		}
		return true, nil
	})
	// The foreign controller-manager may have marked the remote pods not ready while
	// kwok's node leases were stale (the whole foreign control plane was down); kwok does
	// not set them ready again. Play the kubelet: Ready True on each remote pod, which
	// must reach home and put the endpoints back.
	rem, err := podsList(ctx, tb.Foreign, remote, "app=ru")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rem {
		if podReadyStatus(&r) == corev1.ConditionTrue {
			continue
		}
		conds := []corev1.PodCondition{}
		for _, c := range r.Status.Conditions {
			if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionTrue, "", "", metav1.Now()
			}
			conds = append(conds, c)
		}
		body, _ := json.Marshal(map[string]interface{}{"status": map[string]interface{}{"conditions": conds}})
		if _, err := tb.Foreign.Client.CoreV1().Pods(remote).Patch(ctx, r.Name, types.MergePatchType, body, metav1.PatchOptions{}, "status"); err != nil {
			t.Fatal(err)
		}
		t.Logf("remote pod %s was %s after the outage; set Ready as a kubelet would", r.Name, podReadyStatus(&r))
	}
	lastEP := ""
	Eventually(t, podsTimeout, "home pods Ready and Service ru with 2 ready endpoints again", func(ctx context.Context) (bool, error) {
		h, err := podsList(ctx, tb.Home, ns, "app=ru")
		if err != nil || len(h) != 2 {
			return false, err
		}
		for _, p := range h {
			if podReadyStatus(&p) != corev1.ConditionTrue {
				return false, nil
			}
		}
		r, a, err := readyEndpoints(ctx)
		if now := fmt.Sprintf("%d of %d endpoints ready", r, a); now != lastEP {
			t.Logf("home Service ru: %s", now)
			lastEP = now
		}
		return r == 2 && a == 2, err
	})
	after, err := podsList(ctx, tb.Foreign, remote, "app=ru")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("%d remote pods after the outage, %d before", len(after), len(before))
	}
	for _, p := range after {
		if uids[p.Name] != p.UID {
			t.Errorf("remote pod %s was replaced during the outage (uid %s, was %s)", p.Name, p.UID, uids[p.Name])
		}
		if _, ok := p.Labels[remoteUnavailable]; ok {
			t.Errorf("remote pod %s carries the home-side mark %s", p.Name, remoteUnavailable)
		}
	}
}

// Labels and annotations changed at home after creation reach the remote pod, removals
// included; what the foreign cluster adds under its own field manager stays, and remote
// drift of ours is put back. Nothing of the foreign side reaches the home pod.
func TestPodsLabelsAnnotationsFollowHome(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 4*time.Minute)
	hp := tb.Home.Client.CoreV1().Pods(ns)
	fp := tb.Foreign.Client.CoreV1().Pods(remote)
	if _, err := hp.Create(ctx, fidPod("meta", map[string]string{"a": "1", "b": "2"},
		map[string]string{"example.com/x": "1"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fidWaitRemote(t, l, remote, "meta")
	// The foreign cluster's own label (another field manager, as admission or a CNI).
	if _, err := fp.Patch(ctx, "meta", types.MergePatchType, []byte(`{"metadata":{"labels":{"zone":"z1"}}}`),
		metav1.PatchOptions{FieldManager: "foreign-admission"}); err != nil {
		t.Fatal(err)
	}
	// Home: a changed, a removed, a new label; one annotation removed, one added.
	patch := `{"metadata":{"labels":{"a":"10","b":null,"c":"3"},"annotations":{"example.com/x":null,"example.com/y":"2"}}}`
	if _, err := hp.Patch(ctx, "meta", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	id := offIdentities(t)
	want := func(r *corev1.Pod) string {
		switch {
		case r.Labels["a"] != "10" || r.Labels["c"] != "3":
			return fmt.Sprintf("labels %v: want a=10, c=3", r.Labels)
		case r.Labels["b"] != "":
			return fmt.Sprintf("labels %v: b was removed at home", r.Labels)
		case r.Labels["zone"] != "z1":
			return fmt.Sprintf("labels %v: the foreign cluster's zone=z1 was removed", r.Labels)
		case r.Labels["virtualkubelet.liqo.io/origin"] != id.homeID || r.Labels["virtualkubelet.liqo.io/destination"] != id.foreignID:
			return fmt.Sprintf("labels %v: ownership labels lost", r.Labels)
		case r.Annotations["example.com/y"] != "2":
			return fmt.Sprintf("annotations %v: want example.com/y=2", r.Annotations)
		case r.Annotations["example.com/x"] != "":
			return fmt.Sprintf("annotations %v: example.com/x was removed at home", r.Annotations)
		case r.Annotations["liqolet.io/home-pod-uid"] == "":
			return fmt.Sprintf("annotations %v: the home-pod-uid annotation is gone", r.Annotations)
		}
		return ""
	}
	waitRemote := func(what string) {
		t.Helper()
		last := ""
		Eventually(t, podsTimeout, what, func(ctx context.Context) (bool, error) {
			r, err := fp.Get(ctx, "meta", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if why := want(r); why != "" {
				if why != last {
					t.Logf("%s: %s", what, why)
					last = why
				}
				return false, nil
			}
			return true, nil
		})
	}
	waitRemote("remote labels and annotations follow the home pod")
	// Drift: the foreign side changes and removes labels of ours: put back.
	if _, err := fp.Patch(ctx, "meta", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"evil","c":null}}}`),
		metav1.PatchOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	waitRemote("remote drift put back")
	h, err := hp.Get(ctx, "meta", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Labels["zone"]; ok || h.Labels["a"] != "10" {
		t.Errorf("home pod labels %v changed by the foreign side", h.Labels)
	}
	// The home pod's spec is frozen remotely (§1.3), but a second round of label
	// changes still arrives (the first did not leave a stale state behind).
	if _, err := hp.Patch(ctx, "meta", types.MergePatchType, []byte(`{"metadata":{"labels":{"c":null,"d":"4"}}}`),
		metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "second change: c removed, d added", func(ctx context.Context) (bool, error) {
		r, err := fp.Get(ctx, "meta", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, hasC := r.Labels["c"]
		return !hasC && r.Labels["d"] == "4" && r.Labels["zone"] == "z1" && r.Labels["a"] == "10", nil
	})
}

// A pod whose offloading was aborted (Failed, OffloadingAborted) is never offloaded
// again, and the remote pod that is left is deleted (Liqo §1.3), also across a restart.
func TestPodsAbortedNotOffloadedAgain(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 4*time.Minute)
	hp := tb.Home.Client.CoreV1().Pods(ns)
	if _, err := hp.Create(ctx, fidPod("ab", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hp.Create(ctx, fidPod("keep", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fidWaitRemote(t, l, remote, "ab")
	keep := fidWaitRemote(t, l, remote, "keep")
	// As another agent (or an earlier run) would have left it: aborted.
	st := `{"status":{"phase":"Failed","reason":"OffloadingAborted","message":"aborted by the test"}}`
	if _, err := hp.Patch(ctx, "ab", types.MergePatchType, []byte(st), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "the remote pod of the aborted pod deleted", func(ctx context.Context) (bool, error) {
		_, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, "ab", metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})
	checkGone := func(what string, d time.Duration) {
		t.Helper()
		// A re-creation would follow the DELETED event within a pass (well under a
		// second on this bed); d covers several passes and one pod status period.
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if _, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, "ab", metav1.GetOptions{}); err == nil {
				t.Fatalf("%s: the aborted pod was offloaded again", what)
			} else if !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	checkGone("after its remote pod was deleted", 15*time.Second)
	// A restart adopts what exists and still leaves the aborted pod alone.
	if err := l.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	l2 := offStartAgent(t, "--offload", ns)
	waitVirtualNode(t, l2, vnodeAppear, "Ready after the restart", vnExistsAndReady)
	checkGone("after a restart", 20*time.Second)
	h, err := hp.Get(ctx, "ab", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Status.Phase != corev1.PodFailed || h.Status.Reason != "OffloadingAborted" {
		t.Errorf("home pod ab is %s/%s, want Failed/OffloadingAborted", h.Status.Phase, h.Status.Reason)
	}
	// The control: the other pod still runs remotely, the same object.
	k, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the pod that was not aborted lost its remote copy: %v", err)
	}
	if k.UID != keep.UID {
		t.Errorf("remote pod keep was replaced (uid %s, was %s)", k.UID, keep.UID)
	}
}

// routeAddr is the address the kernel picks for a destination off every local network
// (the default route's interface), learnt independently of the agent.
func routeAddr() string {
	c, err := net.Dial("udp", "198.51.100.1:9") // connect only: nothing is sent
	if err != nil {
		return ""
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// With the home API server on 127.0.0.1 (as k3s and microk8s kubeconfigs say) and no
// --node-ip, the virtual node reports the default route's address, never loopback, and
// the start-up log says where it came from. The kubelet API is off: nothing may listen
// off loopback here.
func TestNodeIPNotLoopback(t *testing.T) {
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	want := routeAddr()
	l := StartLiqoletDefaultNodeIP(t, "run",
		"--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig,
		"--node-name", vnodeName, "--kubelet-port", "0")
	if want == "" {
		// No default route on this machine: the agent must refuse, naming the flag.
		Eventually(t, 30*time.Second, "liqolet exits", func(ctx context.Context) (bool, error) {
			done, _ := l.Exited()
			return done, nil
		})
		b, _ := os.ReadFile(l.LogPath)
		if !strings.Contains(string(b), "--node-ip") {
			t.Errorf("no default route, and the error does not name --node-ip:\n%s", b)
		}
		return
	}
	n := waitVirtualNode(t, l, vnodeAppear, "node with an address", func(n *corev1.Node) string {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				return ""
			}
		}
		return "no InternalIP"
	})
	var got string
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			got = a.Address
		}
	}
	if ip := net.ParseIP(got); ip == nil || ip.IsLoopback() || got != want {
		t.Errorf("InternalIP %q, want %q (the default route's address, not loopback)", got, want)
	}
	b, _ := os.ReadFile(l.LogPath)
	if !strings.Contains(string(b), "node IP "+want+" (the default route's interface") {
		t.Errorf("the start-up log does not say the node IP came from the default route:\n%s", b)
	}
	raw, _ := json.Marshal(n.Status.Addresses)
	t.Logf("addresses %s", raw)
}
