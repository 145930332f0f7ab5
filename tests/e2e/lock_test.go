package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

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

// A second agent for the same pair waits for the first one's Lease, says so, and takes
// over once the first stops (a clean stop releases the Lease at once).
func TestSecondInstanceWaits(t *testing.T) {
	args := []string{"run", "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig, "--node-name", "liqo-foreign"}
	t.Cleanup(func() {
		ctx := ctxFor(t, 10*time.Second)
		_ = tb.Home.Client.CoreV1().Nodes().Delete(ctx, "liqo-foreign", metav1.DeleteOptions{})
		_ = tb.Home.Client.CoordinationV1().Leases("kube-node-lease").Delete(ctx, "liqo-foreign", metav1.DeleteOptions{})
	})
	first := StartLiqolet(t, args...)
	waitLog(t, first, "lock: holding Lease liqo/liqolet-liqo-foreign", 60*time.Second)
	waitLog(t, first, "virtual node liqo-foreign registered", 30*time.Second)

	second := StartLiqolet(t, args...)
	waitLog(t, second, "another liqolet", 30*time.Second)
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
