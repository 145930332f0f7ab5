package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func logContains(path, want string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), want)
}

func waitLog(t *testing.T, l *Liqolet, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if logContains(l.LogPath, want) {
			return
		}
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v) before logging %q:\n%s", err, want, tail(l.LogPath, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("liqolet did not log %q within %s:\n%s", want, timeout, tail(l.LogPath, 40))
}

// lockDeleteNode removes a virtual node and its node Lease when the test ends.
func lockDeleteNode(t *testing.T, node string) {
	t.Cleanup(func() {
		ctx := ctxFor(t, 10*time.Second)
		_ = tb.Home.Client.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{})
		_ = tb.Home.Client.CoordinationV1().Leases("kube-node-lease").Delete(ctx, node, metav1.DeleteOptions{})
	})
}

// A second agent for the same pair waits for the first one's Lease, says so, and takes
// over once the first stops (a clean stop releases the Lease at once).
func TestSecondInstanceWaits(t *testing.T) {
	id := offIdentities(t)
	args := []string{"run", "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig, "--node-name", "liqo-foreign"}
	lockDeleteNode(t, "liqo-foreign")
	first := StartLiqolet(t, args...)
	waitLog(t, first, "lock: holding Lease liqo/liqolet-"+id.foreignID+" as liqolet-", 60*time.Second)
	waitLog(t, first, "virtual node liqo-foreign registered", 30*time.Second)

	second := StartLiqolet(t, args...)
	waitLog(t, second, "is held by agent liqolet-", 30*time.Second)
	time.Sleep(3 * time.Second)
	if logContains(second.LogPath, "holding Lease") || logContains(second.LogPath, "registered") {
		t.Fatalf("the second instance went ahead while the first one runs:\n%s", tail(second.LogPath, 20))
	}

	if err := first.Stop(); err != nil {
		t.Fatalf("first instance: %v", err)
	}
	if !logContains(first.LogPath, "released Lease") {
		t.Errorf("the first instance did not release its Lease on SIGTERM:\n%s", tail(first.LogPath, 20))
	}
	// The second one retries every 5 s and finds the lock released.
	waitLog(t, second, "lock: holding Lease", 20*time.Second)
	waitLog(t, second, "virtual node liqo-foreign registered", 30*time.Second)
}

// Two agents for one (home, foreign) pair with different node names: the lock is the
// pair's, so the second waits, says which node's agent holds the pair, never creates
// its node nor touches the remote namespaces, and takes over when the first stops.
func TestPairLockDifferentNodeNames(t *testing.T) {
	id := offIdentities(t)
	// The test RBAC allows only node vnodeName to the agent's identity: the second
	// agent uses the admin credentials of the home cluster (RBAC is not the subject).
	const nodeA, nodeB = vnodeName, "liqo-pair-b"
	token := offRand(6)
	ns := "lock-" + token
	offNamespace(t, tb.Home, ns)
	offForeignCleanup(t, id, token)
	lockDeleteNode(t, nodeA)
	lockDeleteNode(t, nodeB)
	common := []string{"run", "--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig, "--offload", ns}
	first := StartLiqolet(t, append(common, "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig, "--node-name", nodeA)...)
	waitLog(t, first, "lock: holding Lease liqo/liqolet-"+id.foreignID, 60*time.Second)
	waitLog(t, first, "virtual node "+nodeA+" registered", 30*time.Second)
	remote := id.defaultName(ns)
	waitLog(t, first, "namespace "+ns+" offloaded as "+remote, 30*time.Second)

	lease, err := tb.Home.Client.CoordinationV1().Leases("liqo").Get(ctxFor(t, 10*time.Second), "liqolet-"+id.foreignID, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || !strings.HasSuffix(*lease.Spec.HolderIdentity, "@"+nodeA) {
		t.Fatalf("the pair's lock Lease should name node %s as its holder: %v %v", nodeA, err, lease.Spec.HolderIdentity)
	}
	r, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), remote, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("remote namespace %s: %v", remote, err)
	}
	uid := r.UID

	second := StartLiqolet(t, append(common, "--home-kubeconfig", tb.Home.Kubeconfig, "--node-name", nodeB)...)
	want := "pair " + id.homeID + "->" + id.foreignID + " is held by agent liqolet-"
	waitLog(t, second, want, 30*time.Second)
	waitLog(t, second, "for node "+nodeA+" (Lease liqo/liqolet-"+id.foreignID+" on the home cluster); waiting", 5*time.Second)
	time.Sleep(12 * time.Second) // more than a renewal period of the first
	if logContains(second.LogPath, "holding Lease") || logContains(second.LogPath, "registered") ||
		logContains(second.LogPath, "remote namespace") {
		t.Fatalf("the second agent went ahead while the first one holds the pair:\n%s", tail(second.LogPath, 20))
	}
	if _, err := tb.Home.Client.CoreV1().Nodes().Get(ctxFor(t, 10*time.Second), nodeB, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("node %s of the waiting agent exists (or cannot be read: %v)", nodeB, err)
	}
	r, err = tb.Foreign.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), remote, metav1.GetOptions{})
	if err != nil || r.UID != uid || r.DeletionTimestamp != nil {
		t.Fatalf("remote namespace %s was touched while the second agent waited: %v %v", remote, err, r.DeletionTimestamp)
	}
	if !strings.Contains(tail(first.LogPath, 400), "holding Lease") || logContains(first.LogPath, "lost Lease") {
		t.Fatalf("the first agent lost its lock:\n%s", tail(first.LogPath, 20))
	}

	if err := first.Stop(); err != nil {
		t.Fatalf("first agent: %v", err)
	}
	waitLog(t, second, "lock: holding Lease liqo/liqolet-"+id.foreignID, 20*time.Second)
	waitLog(t, second, "virtual node "+nodeB+" registered", 30*time.Second)
	// The second agent serves the pair now: the same remote namespace (the home mark
	// says it is ours), not a new one.
	waitLog(t, second, "namespace "+ns+" offloaded as "+remote, 30*time.Second)
	r, err = tb.Foreign.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), remote, metav1.GetOptions{})
	if err != nil || r.UID != uid {
		t.Fatalf("remote namespace %s after the take-over: %v (uid %v, was %v)", remote, err, r.UID, uid)
	}
	lease, err = tb.Home.Client.CoordinationV1().Leases("liqo").Get(ctxFor(t, 10*time.Second), "liqolet-"+id.foreignID, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || !strings.HasSuffix(*lease.Spec.HolderIdentity, "@"+nodeB) {
		t.Fatalf("the pair's lock Lease should name node %s now: %v %v", nodeB, err, lease.Spec.HolderIdentity)
	}
}

// Upgrade: an agent of an earlier version holds the per-node Lease liqolet-<node>; the
// new agent waits while that Lease is renewed, says so, and goes ahead once it is not.
func TestLockWaitsForEarlierVersion(t *testing.T) {
	id := offIdentities(t)
	lockDeleteNode(t, vnodeName)
	leases := tb.Home.Client.CoordinationV1().Leases("liqo")
	legacy := "liqolet-" + vnodeName
	now := metav1.NewMicroTime(time.Now())
	holder, dur := "liqolet-0123456789ab", int32(30)
	ctx := ctxFor(t, 3*time.Minute)
	_ = leases.Delete(ctx, legacy, metav1.DeleteOptions{})
	if _, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: legacy},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, AcquireTime: &now, RenewTime: &now}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leases.Delete(context.Background(), legacy, metav1.DeleteOptions{}) })
	l := StartLiqolet(t, "run", "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig, "--node-name", vnodeName)
	waitLog(t, l, "holds the per-node Lease liqo/"+legacy+" of an earlier liqolet version", 30*time.Second)
	time.Sleep(6 * time.Second)
	if logContains(l.LogPath, "holding Lease") || logContains(l.LogPath, "registered") {
		t.Fatalf("the agent went ahead while an earlier version holds its node:\n%s", tail(l.LogPath, 20))
	}
	// The pair's Lease may be left released by an earlier test; it must not be held.
	if pl, err := leases.Get(ctx, "liqolet-"+id.foreignID, metav1.GetOptions{}); err == nil {
		if pl.Spec.HolderIdentity != nil && *pl.Spec.HolderIdentity != "" {
			t.Fatalf("the pair's Lease is held by %s while the agent waits for the earlier version", *pl.Spec.HolderIdentity)
		}
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	// The earlier agent stops cleanly: no holder any more.
	lease, err := leases.Get(ctx, legacy, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity = nil
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, l, "lock: holding Lease liqo/liqolet-"+id.foreignID, 20*time.Second)
	waitLog(t, l, "virtual node "+vnodeName+" registered", 30*time.Second)
}
