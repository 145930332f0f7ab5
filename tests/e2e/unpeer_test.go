package e2e

// End-to-end tests of `liqolet unpeer` (issue 16 item 6): the end of a peering while
// pods run, refused while an agent holds the pair's lock (and --take-over), --force with
// the foreign cluster stopped, idempotence, a foreign namespace that forges our labels,
// and a fresh peering afterwards.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// runUnpeer runs `liqolet unpeer` with the agent's credentials and node name, and returns
// its combined output and exit status.
func runUnpeer(t *testing.T, extra ...string) (string, int) {
	t.Helper()
	bin := BuildLiqolet(t)
	args := append([]string{"unpeer", "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig, "--node-name", vnodeName,
		"--timeout", "90s"}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running liqolet unpeer: %v", err)
	}
	t.Logf("liqolet %s -> exit %d:\n%s", strings.Join(args, " "), code, out)
	return string(out), code
}

// unpeerHomeGone complains about what the peering left at home: the node, its Lease,
// the pair's lock Lease, pods on the node, and our mark on the namespaces.
func unpeerHomeGone(ctx context.Context, id offIdentity, nss []string, bad *complaints) error {
	if _, err := tb.Home.Client.CoreV1().Nodes().Get(ctx, vnodeName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		bad.add("virtual node %s still exists (%v)", vnodeName, err)
	}
	if _, err := tb.Home.Client.CoordinationV1().Leases("kube-node-lease").Get(ctx, vnodeName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		bad.add("node Lease %s still exists (%v)", vnodeName, err)
	}
	if _, err := tb.Home.Client.CoordinationV1().Leases("liqo").Get(ctx, "liqolet-"+id.foreignID, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		bad.add("lock Lease liqolet-%s still exists (%v)", id.foreignID, err)
	}
	pods, err := tb.Home.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + vnodeName})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		bad.add("home pod %s/%s is still on the virtual node", p.Namespace, p.Name)
	}
	mark := "liqolet.liqo.io/remote." + id.foreignName
	for _, ns := range nss {
		n, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if _, ok := n.Labels[mark]; ok {
			bad.add("home namespace %s keeps label %s", ns, mark)
		}
		if _, ok := n.Annotations[mark]; ok {
			bad.add("home namespace %s keeps annotation %s", ns, mark)
		}
	}
	return nil
}

func unpeerWaitClean(t *testing.T, what string, check func(ctx context.Context, bad *complaints) error) {
	t.Helper()
	var last complaints
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var bad complaints
		err := check(ctx, &bad)
		cancel()
		if err == nil && len(bad) == 0 {
			return
		}
		if err != nil {
			bad.add("%v", err)
		}
		last = bad
		time.Sleep(500 * time.Millisecond)
	}
	for _, b := range last {
		t.Errorf("%s: %s", what, b)
	}
	t.FailNow()
}

func unpeerCount(t *testing.T, out, line string, want int) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), line) {
			f := strings.Fields(l)
			if got := f[len(f)-1]; got != fmt.Sprint(want) {
				t.Errorf("unpeer reported %q = %s, want %d", line, got, want)
			}
			return
		}
	}
	t.Errorf("unpeer's report lacks %q:\n%s", line, out)
}

// Unpeer while pods run: refused while the agent holds the lock; with --take-over the
// agent stops, the remote pods go first, then the home pods, the remote namespaces the
// agent made (one through --offload, one through a NamespaceOffloading), the finalizer
// and status key, the marks, the node and the Leases; a foreign namespace forging our
// labels and original-name survives; a second run finds nothing; a new agent peers again.
func TestUnpeerWhilePodsRun(t *testing.T) {
	id := offIdentities(t)
	l, ns, remote := podsStart(t)
	// a second namespace, offloaded through a NamespaceOffloading
	ns2 := "p-" + offRand(6)
	offForeignCleanup(t, id, ns2)
	offNamespace(t, tb.Home, ns2)
	d := offDyn(t)
	offCreateNSOF(t, d, ns2, map[string]interface{}{})
	remote2 := id.defaultName(ns2)
	offWaitRemote(t, l, id, remote2, ns2)
	ctx := ctxFor(t, 8*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("up", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsWaitSync(t, l, ns, remote, "app=up", 3, true, "3 pods offloaded")
	fin := "liqolet.liqo.io/" + id.foreignName
	offWaitStatus(t, l, d, ns2, id.foreignName, "ns2 offloaded", func(s offStatus) string {
		if len(s.conds) == 0 || !strings.Contains(fmt.Sprint(s.finalizers), fin) {
			return "no status key or finalizer yet: " + s.String()
		}
		return ""
	})
	// The hostile one: our labels, original-name of an offloaded namespace, not ours.
	hostile := "unpeer-hostile-" + offRand(6)
	hostileUID := hostileNamespace(t, id, hostile, ns)
	remoteUID := map[string]string{}
	for _, r := range []string{remote, remote2} {
		n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, r, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		remoteUID[r] = string(n.UID)
	}

	// Refused while the agent runs: nothing is touched.
	out, code := runUnpeer(t)
	if code != 1 || !strings.Contains(out, "is held by agent liqolet-") || !strings.Contains(out, "for node "+vnodeName) ||
		!strings.Contains(out, "--take-over") {
		t.Fatalf("unpeer with a running agent: exit %d, want 1 with who holds the pair and --take-over:\n%s", code, out)
	}
	if done, _ := l.Exited(); done {
		t.Fatalf("the agent stopped after a refused unpeer:\n%s", tail(l.LogPath, 20))
	}
	podsWaitSync(t, l, ns, remote, "app=up", 3, true, "pods still offloaded after the refused unpeer")

	// --take-over: the agent loses its lock and stops; everything goes.
	start := time.Now()
	out, code = runUnpeer(t, "--take-over")
	if code != 0 {
		t.Fatalf("unpeer --take-over: exit %d:\n%s", code, out)
	}
	if done, _ := l.Exited(); !done {
		t.Fatalf("the agent still runs after unpeer took its lock over:\n%s", tail(l.LogPath, 20))
	}
	if !logContains(l.LogPath, "lost Lease liqo/liqolet-"+id.foreignID) {
		t.Errorf("the agent did not say it lost the pair's lock:\n%s", tail(l.LogPath, 20))
	}
	t.Logf("unpeer --take-over took %s", time.Since(start).Round(time.Second))
	unpeerCount(t, out, "remote pods deleted", 3)
	unpeerCount(t, out, "home pods deleted", 3)
	unpeerCount(t, out, "remote namespaces deleted", 2)
	unpeerCount(t, out, "NamespaceOffloading status keys", 1)
	unpeerCount(t, out, "NamespaceOffloading finalizers", 1)
	unpeerCount(t, out, "home namespace marks", 2)
	unpeerCount(t, out, "home namespace scheduling labels", 1) // ns only: ns2 has its NamespaceOffloading
	unpeerCount(t, out, "virtual nodes deleted", 1)
	unpeerCount(t, out, "node Leases deleted", 1)
	unpeerCount(t, out, "lock Leases deleted", 1)
	if !strings.Contains(out, "foreign namespaces with our labels but not ours, left alone: 1") {
		t.Errorf("unpeer did not report the forged namespace:\n%s", out)
	}

	unpeerWaitClean(t, "after unpeer", func(ctx context.Context, bad *complaints) error {
		if err := unpeerHomeGone(ctx, id, []string{ns, ns2}, bad); err != nil {
			return err
		}
		for _, r := range []string{remote, remote2} {
			if _, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, r, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				bad.add("remote namespace %s still exists (%v)", r, err)
			}
		}
		rp, err := tb.Foreign.Client.CoreV1().Pods(remote).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, p := range rp.Items {
			bad.add("remote pod %s/%s still exists", remote, p.Name)
		}
		u, err := d.Resource(nsofGVR).Namespace(ns2).Get(ctx, "offloading", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if strings.Contains(fmt.Sprint(u.GetFinalizers()), fin) {
			bad.add("NamespaceOffloading %s keeps finalizer %s", ns2, fin)
		}
		if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "remoteNamespacesConditions", id.foreignName); ok {
			bad.add("NamespaceOffloading %s keeps status key %s", ns2, id.foreignName)
		}
		if ph, _, _ := unstructured.NestedString(u.Object, "status", "offloadingPhase"); ph != "NoClusterSelected" {
			bad.add("NamespaceOffloading %s phase %q, want NoClusterSelected (no agent's key left)", ns2, ph)
		}
		n, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if _, ok := n.Labels[offSchedLabel]; ok {
			bad.add("home namespace %s (offloaded by --offload) keeps %s", ns, offSchedLabel)
		}
		n, err = tb.Home.Client.CoreV1().Namespaces().Get(ctx, ns2, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Labels[offSchedLabel] != "true" {
			bad.add("home namespace %s lost %s although its NamespaceOffloading asks for it", ns2, offSchedLabel)
		}
		return hostileNSIntact(ctx, hostile, hostileUID, bad)
	})
	// The Deployment's replacements wait (the node was cordoned, then deleted): none is
	// bound to a node.
	hp, err := tb.Home.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=up"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range hp.Items {
		if p.Spec.NodeName != "" {
			t.Errorf("home pod %s was bound to node %s after unpeer", p.Name, p.Spec.NodeName)
		}
	}

	// Idempotent.
	out, code = runUnpeer(t)
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("second unpeer: exit %d, want 0 and \"nothing to remove\":\n%s", code, out)
	}

	// A fresh peering works: the pending pods run remotely again, in new namespaces.
	l2 := offStartAgent(t, "--offload", ns)
	offWaitRemote(t, l2, id, remote, ns)
	offWaitRemote(t, l2, id, remote2, ns2)
	n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, remote, metav1.GetOptions{})
	if err != nil || string(n.UID) == remoteUID[remote] {
		t.Fatalf("remote namespace %s after the new peering: %v (uid %s, the old one was %s)", remote, err, n.UID, remoteUID[remote])
	}
	Eventually(t, 2*time.Minute, "default ServiceAccount of "+remote, func(ctx context.Context) (bool, error) {
		_, err := tb.Foreign.Client.CoreV1().ServiceAccounts(remote).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	podsWaitSync(t, l2, ns, remote, "app=up", 3, true, "3 pods offloaded by the new peering")
	var bad complaints
	if err := hostileNSIntact(ctx, hostile, hostileUID, &bad); err != nil || len(bad) > 0 {
		t.Errorf("forged namespace after the new peering: %v %v", err, bad)
	}
}

// --force with the foreign cluster stopped: the home side only, without a foreign
// request; the remote namespace stays (and is named); the agent peers again afterwards.
func TestUnpeerForce(t *testing.T) {
	id := offIdentities(t)
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 8*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(ns).Create(ctx, podsDeployment("upf", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsWaitSync(t, l, ns, remote, "app=upf", 2, true, "2 pods offloaded")
	r, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, remote, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatalf("agent: %v", err)
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

	// Without --force, unpeer cannot reach the foreign cluster and says what to do.
	out, code := runUnpeer(t)
	if code != 1 || !strings.Contains(out, "rerun with --force") {
		t.Fatalf("unpeer with the foreign cluster down: exit %d, want 1 and the --force hint:\n%s", code, out)
	}
	start := time.Now()
	out, code = runUnpeer(t, "--force")
	if code != 0 {
		t.Fatalf("unpeer --force: exit %d:\n%s", code, out)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("unpeer --force took %s: it should not wait for the foreign cluster", time.Since(start))
	}
	unpeerCount(t, out, "home pods deleted", 2)
	unpeerCount(t, out, "remote namespaces left behind", 1)
	unpeerCount(t, out, "virtual nodes deleted", 1)
	if !strings.Contains(out, "left in the foreign cluster: namespace "+remote+" (UID "+string(r.UID)) {
		t.Errorf("unpeer --force does not name the remote namespace left behind:\n%s", out)
	}
	if strings.Contains(out, "remote pods deleted") {
		t.Errorf("unpeer --force reports remote work:\n%s", out)
	}
	unpeerWaitClean(t, "after unpeer --force", func(ctx context.Context, bad *complaints) error {
		return unpeerHomeGone(ctx, id, []string{ns}, bad)
	})
	// Again: with the node gone, only the node name cannot say which pair it was...
	out, code = runUnpeer(t, "--force")
	if code != 0 || !strings.Contains(out, "virtual node "+vnodeName+" not found: nothing to remove") {
		t.Fatalf("second unpeer --force: exit %d, want 0 and the node not found:\n%s", code, out)
	}
	// ...with the foreign id it checks everything, and finds nothing.
	out, code = runUnpeer(t, "--force", "--foreign-cluster-id", id.foreignID)
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("third unpeer --force: exit %d, want 0 and \"nothing to remove\":\n%s", code, out)
	}

	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Fatalf("start the foreign API server: %v\n%s", err, out)
	}
	restarted = true
	// Nothing was done in the foreign cluster.
	r2, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, remote, metav1.GetOptions{})
	if err != nil || r2.UID != r.UID || r2.DeletionTimestamp != nil {
		t.Fatalf("remote namespace %s after unpeer --force: %v (uid %s, was %s)", remote, err, r2.UID, r.UID)
	}
	// The foreign cluster's admin removes what was left there (the report named it);
	// then a new agent peers again and the pending pods run remotely.
	if err := tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, remote, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace holds the pods that ran there: its deletion waits for the foreign
	// controller-manager and kwok, whose watches come back after the API server restart
	// with their own backoff (tens of seconds on a loaded machine): a test-bed wait, not
	// the agent's.
	Eventually(t, 3*time.Minute, "foreign namespace "+remote+" deleted by its admin", func(ctx context.Context) (bool, error) {
		_, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, remote, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	l2 := offStartAgent(t, "--offload", ns)
	offWaitRemote(t, l2, id, remote, ns)
	Eventually(t, 2*time.Minute, "default ServiceAccount of "+remote, func(ctx context.Context) (bool, error) {
		_, err := tb.Foreign.Client.CoreV1().ServiceAccounts(remote).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	waitVirtualNode(t, l2, vnodeAppear, "Ready", vnExistsAndReady)
	podsWaitSync(t, l2, ns, remote, "app=upf", 2, true, "2 pods offloaded after the new peering")
	// Leave nothing behind for the next test (a terminating namespace would keep its mark
	// and pods until the controllers catch up): unpeer the new peering too.
	if err := l2.Stop(); err != nil {
		t.Fatalf("agent: %v", err)
	}
	if out, code := runUnpeer(t); code != 0 {
		t.Fatalf("unpeer after the new peering: exit %d:\n%s", code, out)
	}
}

// The remote namespace the home mark names was deleted and a namespace of the same name,
// forging our labels and original-name, took its place (another UID): unpeer must not
// delete it (the UID is the proof), and says so; the home side is still cleaned.
func TestUnpeerHostileReplacedNamespace(t *testing.T) {
	id := offIdentities(t)
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 4*time.Minute)
	if err := l.Stop(); err != nil {
		t.Fatalf("agent: %v", err)
	}
	if err := tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, remote, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	offWaitRemoteGone(t, remote)
	forgedUID := hostileNamespace(t, id, remote, ns)

	out, code := runUnpeer(t)
	if code != 0 {
		t.Fatalf("unpeer: exit %d:\n%s", code, out)
	}
	unpeerCount(t, out, "remote namespaces deleted", 0)
	unpeerCount(t, out, "home namespace marks", 1)
	if !strings.Contains(out, "foreign namespace "+remote+" is not the one created for home namespace "+ns) {
		t.Errorf("unpeer does not say why it left %s alone:\n%s", remote, out)
	}
	time.Sleep(2 * time.Second)
	var bad complaints
	if err := hostileNSIntact(ctx, remote, forgedUID, &bad); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	unpeerWaitClean(t, "after unpeer", func(ctx context.Context, bad *complaints) error {
		return unpeerHomeGone(ctx, id, []string{ns}, bad)
	})
}
