package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The agent under a service manager's eyes (Type=notify, WatchdogSec=): a datagram
// socket stands in for systemd's, named by NOTIFY_SOCKET. READY=1 comes once start-up
// is done, a STATUS once the node runs, WATCHDOG=1 every WATCHDOG_USEC/2 from the loop,
// and STOPPING=1 on SIGTERM.
func TestSdNotifyReadyWatchdogStopping(t *testing.T) {
	dir, err := os.MkdirTemp("", "liqolet-notify-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "1000000") // a ping every 500 ms

	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 1024)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(timeout time.Duration) (string, bool) {
		select {
		case m, ok := <-msgs:
			return m, ok
		case <-time.After(timeout):
			return "", false
		}
	}

	lockDeleteNode(t, "liqo-foreign")
	l := StartLiqolet(t, "run", "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig, "--node-name", "liqo-foreign", "--kubelet-port", "0")

	m, ok := next(90 * time.Second)
	if !ok || m != "READY=1\nSTATUS=waiting for the lock Lease of this peering" {
		t.Fatalf("first message %q (received: %v), want READY=1 with its STATUS", m, ok)
	}
	// Nothing but pings until the node runs; then the STATUS, then pings again.
	pings, status := 0, false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !(status && pings >= 6) {
		m, ok := next(5 * time.Second)
		if !ok {
			t.Fatalf("no message for 5 s with WATCHDOG_USEC=1000000 (pings so far %d)", pings)
		}
		switch {
		case m == "WATCHDOG=1":
			pings++
		case m == "STATUS=lock Lease held; virtual node started":
			status = true
		default:
			t.Fatalf("unexpected message %q", m)
		}
	}
	if !status || pings < 6 {
		t.Fatalf("status seen %v, %d pings", status, pings)
	}
	waitLog(t, l, "virtual node liqo-foreign registered", 30*time.Second)
	// The pings keep coming at about 2 per second while the loop turns.
	start, n := time.Now(), 0
	for time.Since(start) < 3*time.Second {
		if m, ok := next(2 * time.Second); ok && m == "WATCHDOG=1" {
			n++
		}
	}
	if n < 4 || n > 8 {
		t.Errorf("%d pings in 3 s, want about 6", n)
	}
	if err := l.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for {
		m, ok := next(2 * time.Second)
		if !ok {
			t.Fatal("no STOPPING=1 after SIGTERM")
		}
		if m == "STOPPING=1" {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected message %q before STOPPING=1", m)
		}
	}
	if m, ok := next(1500 * time.Millisecond); ok {
		t.Errorf("a message after STOPPING=1: %q", m)
	}
	if !strings.Contains(tail(l.LogPath, 200), "watchdog: WATCHDOG=1 every 500 ms") {
		t.Errorf("the log does not say the watchdog interval")
	}
}
