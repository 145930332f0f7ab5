package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// watcher runs `liqolet debug watch` and folds its output into the set of objects it
// believes exist, the way a reflector's store would: RELIST marks everything, LISTED
// and ADDED/MODIFIED mark present, SYNCED sweeps what the relist did not see, DELETED
// removes.
type watcher struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	present map[string]bool
	seen    map[string]bool // during a relist
	lines   []string
	relists int
	synced  int
	done    chan struct{}
}

func startWatcher(t *testing.T, kubeconfig, path string, extra ...string) *watcher {
	t.Helper()
	bin := BuildLiqolet(t)
	args := append([]string{"debug", "watch", "--kubeconfig", kubeconfig, "--path", path}, extra...)
	w := &watcher{present: map[string]bool{}, done: make(chan struct{})}
	w.cmd = exec.Command(bin, args...)
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	w.cmd.Stderr = &stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.apply(sc.Text())
		}
	}()
	t.Cleanup(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			_ = w.cmd.Process.Kill()
		}
		_ = w.cmd.Wait()
		if t.Failed() {
			w.mu.Lock()
			t.Logf("watcher output:\n%s\nstderr:\n%s", strings.Join(w.lines, "\n"), stderr.String())
			w.mu.Unlock()
		}
	})
	return w
}

func (w *watcher) apply(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, line)
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "RELIST":
		w.relists++
		w.seen = map[string]bool{}
	case "SYNCED":
		w.synced++
		if w.seen != nil {
			for k := range w.present {
				if !w.seen[k] {
					delete(w.present, k)
				}
			}
			w.seen = nil
		}
	case "LISTED", "ADDED", "MODIFIED":
		w.present[f[1]] = true
		if w.seen != nil {
			w.seen[f[1]] = true
		}
	case "DELETED":
		delete(w.present, f[1])
	}
}

func (w *watcher) snapshot() (names []string, relists, synced int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.present {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, w.relists, w.synced
}

// waitState waits until the watcher's view equals the configmaps that really exist.
func waitState(t *testing.T, w *watcher, c *Cluster, ns string, timeout time.Duration) {
	t.Helper()
	var want, got []string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		list, err := c.Client.CoreV1().ConfigMaps(ns).List(ctxFor(t, 10*time.Second), metav1.ListOptions{})
		if err == nil {
			want = want[:0]
			for _, cm := range list.Items {
				want = append(want, ns+"/"+cm.Name)
			}
			sort.Strings(want)
			got, _, _ = w.snapshot()
			if strings.Join(got, ",") == strings.Join(want, ",") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the watcher's view %v never matched the cluster's configmaps %v", got, want)
}

func createCM(t *testing.T, c *Cluster, ns, name string) {
	t.Helper()
	_, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctxFor(t, 10*time.Second),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": name}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func testbedCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := tb.Run(args...)
	if err != nil {
		t.Fatalf("tools/testbed %v: %v\n%s", args, err, out)
	}
}

func TestWatchSurvivesAPIServerRestart(t *testing.T) {
	h := tb.Home
	ns := h.Namespace(t)
	createCM(t, h, ns, "before")
	w := startWatcher(t, h.LiqoletCertKubeconfig, "/api/v1/namespaces/"+ns+"/configmaps", "--no-watch-list")
	waitState(t, w, h, ns, 30*time.Second)
	createCM(t, h, ns, "while-watching")
	waitState(t, w, h, ns, 30*time.Second)

	testbedCmd(t, "stop-apiserver", "home")
	time.Sleep(3 * time.Second) // the watcher sees the break and backs off
	testbedCmd(t, "start-apiserver", "home")

	createCM(t, h, ns, "after-restart")
	if err := h.Client.CoreV1().ConfigMaps(ns).Delete(ctxFor(t, 10*time.Second), "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, h, ns, 60*time.Second)
	_, relists, _ := w.snapshot()
	t.Logf("watch resumed after the restart (%d list(s) in all)", relists)
}

// etcdCall posts a JSON request to the cluster's etcd gRPC gateway (loopback only).
func etcdCall(t *testing.T, cluster, path string, body any) map[string]any {
	t.Helper()
	state, err := os.ReadFile(filepath.Join(tb.Env["LIQOLET_TESTBED_DIR"], "state.env"))
	if err != nil {
		t.Fatal(err)
	}
	port := ""
	for _, l := range strings.Split(string(state), "\n") {
		if strings.HasPrefix(l, strings.ToUpper(cluster)+"_ETCD_PORT=") {
			port = strings.TrimPrefix(l, strings.ToUpper(cluster)+"_ETCD_PORT=")
		}
	}
	if port == "" {
		t.Fatal("no etcd port in state.env")
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%s%s", port, path), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("etcd %s: %d %s", path, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWatchRelistsAfterCompaction(t *testing.T) {
	h := tb.Home
	ns := h.Namespace(t)
	createCM(t, h, ns, "one")
	w := startWatcher(t, h.LiqoletCertKubeconfig, "/api/v1/namespaces/"+ns+"/configmaps", "--no-watch-list")
	waitState(t, w, h, ns, 30*time.Second)
	createCM(t, h, ns, "two")
	waitState(t, w, h, ns, 30*time.Second)
	_, relistsBefore, _ := w.snapshot()

	// With the API server down, move etcd's revision on and compact everything before it,
	// so the version the watcher resumes from no longer exists anywhere.
	testbedCmd(t, "stop-apiserver", "home")
	key := base64.StdEncoding.EncodeToString([]byte("/liqolet-e2e/compaction-marker"))
	val := base64.StdEncoding.EncodeToString([]byte(time.Now().String()))
	put := etcdCall(t, "home", "/v3/kv/put", map[string]string{"key": key, "value": val})
	rev := put["header"].(map[string]any)["revision"].(string)
	etcdCall(t, "home", "/v3/kv/compaction", map[string]any{"revision": rev, "physical": true})
	testbedCmd(t, "start-apiserver", "home")

	createCM(t, h, ns, "three")
	if err := h.Client.CoreV1().ConfigMaps(ns).Delete(ctxFor(t, 10*time.Second), "one", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, h, ns, 90*time.Second)
	names, relists, _ := w.snapshot()
	if relists <= relistsBefore {
		t.Fatalf("expected a relist after compaction (410), got %d lists before and %d after", relistsBefore, relists)
	}
	t.Logf("relisted after compaction at revision %s; final view %v", rev, names)
}
