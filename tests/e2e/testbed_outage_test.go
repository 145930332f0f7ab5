package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAPIServerOutage exercises `tools/testbed stop-apiserver` and
// `start-apiserver`, which outage tests of liqolet rely on: while the
// foreign API server is down, requests to it fail and home is unaffected;
// after the restart the same URL and credentials work again and the
// controllers resume (a new namespace gets its default ServiceAccount).
// It runs last (file order) because it disturbs the foreign cluster.
func TestAPIServerOutage(t *testing.T) {
	if out, err := tb.Run("stop-apiserver", "foreign"); err != nil {
		t.Fatalf("stop-apiserver foreign: %v\n%s", err, out)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
				t.Errorf("start-apiserver foreign (cleanup): %v\n%s", err, out)
			}
		}
	})

	ctx := ctxFor(t, 4*time.Minute)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := tb.Foreign.Client.CoreV1().Namespaces().Get(short, "default", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Fatal("foreign API server still answers after stop-apiserver")
	}
	t.Logf("foreign down: %v", err)
	if _, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("home affected by the foreign outage: %v", err)
	}
	err = exec.Command(tb.Script, "status").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("tools/testbed status during the outage: %v, want exit status 2 (degraded)", err)
	}

	start := time.Now()
	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Fatalf("start-apiserver foreign: %v\n%s", err, out)
	}
	restarted = true
	t.Logf("foreign API server back after %v", time.Since(start).Round(100*time.Millisecond))
	if err := exec.Command(tb.Script, "status").Run(); err != nil {
		t.Errorf("tools/testbed status after the restart: %v, want success", err)
	}
	if _, err := tb.Foreign.Client.Discovery().ServerVersion(); err != nil {
		t.Fatalf("foreign /version after restart: %v", err)
	}
	// The controller manager reconnects: a new namespace gets its ServiceAccount.
	tb.Foreign.Namespace(t)
}
