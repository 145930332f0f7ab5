package e2e

// End-to-end tests of the management endpoint (issue 7): `liqolet run` against the two
// test clusters, queried with Debian's stock libcoap clients (coap-client-notls, and
// coap-client-openssl for DTLS) and with liqoletctl. Every agent here listens on
// 127.0.0.1 port 0 (the log says which port) under its own virtual node name,
// liqo-mgmt-e2e, so it never meets the agents of the other tests; its Node and Leases
// are removed when each test ends. Tests of this package run one after another (none
// calls t.Parallel), so the foreign outage below disturbs no other test.
// Run them alone with `make e2e E2E_RUN=TestMgmt`.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const mgNode = "liqo-mgmt-e2e"

var (
	mgCoapRE = regexp.MustCompile(`mgmt: CoAP listening on (coaps?)://127\.0\.0\.1:(\d+)`)
	mgHTTPRE = regexp.MustCompile(`mgmt: HTTP listening on http://127\.0\.0\.1:(\d+)`)
)

// mgAgent is a running agent and where its endpoint listens.
type mgAgent struct {
	*Liqolet
	URI  string // coap://127.0.0.1:PORT or coaps://...
	Addr string // 127.0.0.1:PORT
	HTTP string // 127.0.0.1:PORT of --http-listen, if any
}

// mgDeleteNode removes the test's Node, its kube-node-lease Lease and the agent's lock
// Lease with the admin client.
func mgDeleteNode(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := tb.Home.Client
	if err := h.CoreV1().Nodes().Delete(ctx, mgNode, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete node %s: %v", mgNode, err)
	}
	for _, l := range []struct{ ns, name string }{{"kube-node-lease", mgNode}, {"liqo", "liqolet-" + mgNode}} {
		if err := h.CoordinationV1().Leases(l.ns).Delete(ctx, l.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete lease %s/%s: %v", l.ns, l.name, err)
		}
	}
}

// mgStart starts `liqolet run` with the admin kubeconfigs (the test RBAC only allows
// the node name liqo-foreign), node liqo-mgmt-e2e and the endpoint on 127.0.0.1:0,
// plus extra, and waits for the line that names the port.
func mgStart(t *testing.T, extra ...string) *mgAgent {
	t.Helper()
	mgDeleteNode(t)
	t.Cleanup(func() { mgDeleteNode(t) }) // runs after the agent has stopped
	args := append([]string{"run", "--home-kubeconfig", tb.Home.Kubeconfig,
		"--foreign-kubeconfig", tb.Foreign.Kubeconfig, "--node-name", mgNode,
		"--mgmt-listen", "127.0.0.1:0"}, extra...)
	l := StartLiqolet(t, args...)
	a := &mgAgent{Liqolet: l}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(l.LogPath)
		if m := mgCoapRE.FindSubmatch(b); m != nil {
			a.URI = fmt.Sprintf("%s://127.0.0.1:%s", m[1], m[2])
			a.Addr = "127.0.0.1:" + string(m[2])
			if h := mgHTTPRE.FindSubmatch(b); h != nil {
				a.HTTP = "127.0.0.1:" + string(h[1])
			}
			return a
		}
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v) before its endpoint listened:\n%s", err, tail(l.LogPath, 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 'mgmt: CoAP listening' line within 60 s:\n%s", tail(l.LogPath, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mgCtlPath(t *testing.T) string {
	t.Helper()
	BuildLiqolet(t) // `make` builds liqoletctl too
	p := filepath.Join(tb.Top, "build", "host", "liqoletctl")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("liqoletctl not built: %v", err)
	}
	return p
}

// mgCtl runs liqoletctl with args and returns stdout, stderr and the exit code.
func mgCtl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mgCtlPath(t), args...)
	var out, errb strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("liqoletctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mgCoapClient finds one of Debian's libcoap3-bin clients (installed by `make deps`).
func mgCoapClient(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatalf("none of %v in PATH: run `make deps` (package libcoap3-bin)", names)
	return ""
}

// mgCoapGet runs `coap-client-notls -m get URI` and returns its output.
func mgCoapGet(t *testing.T, uri string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"-m", "get", "-B", "20"}, extra...)
	args = append(args, uri)
	out, err := exec.CommandContext(ctx, mgCoapClient(t, "coap-client-notls", "coap-client"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("coap-client %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// mgStatus is the part of /status these tests look at.
type mgStatus struct {
	Version        string `json:"version"`
	Board          string `json:"board"`
	UptimeSeconds  int64  `json:"uptimeSeconds"`
	Ready          bool   `json:"ready"`
	NotReadyReason string `json:"notReadyReason"`
	Clusters       map[string]struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Server    string `json:"server"`
		Reachable bool   `json:"reachable"`
	} `json:"clusters"`
	VirtualNode struct {
		Name          string `json:"name"`
		Registered    bool   `json:"registered"`
		LockHeld      bool   `json:"lockHeld"`
		LeaseRenewals int64  `json:"leaseRenewals"`
		StatusUpdates int64  `json:"statusUpdates"`
		NodeApplies   int64  `json:"nodeApplies"`
	} `json:"virtualNode"`
	Connections []struct {
		Cluster   string `json:"cluster"`
		Name      string `json:"name"`
		State     string `json:"state"`
		LastError string `json:"lastError"`
		Requests  int64  `json:"requests"`
	} `json:"connections"`
	Requests map[string]struct {
		Submitted int64 `json:"submitted"`
		Completed int64 `json:"completed"`
	} `json:"requests"`
	Namespaces []json.RawMessage `json:"namespaces"`
	Objects    map[string]int64  `json:"objects"`
	Tables     []struct {
		Name     string `json:"name"`
		Used     int64  `json:"used"`
		Capacity int64  `json:"capacity"`
	} `json:"tables"`
	Memory struct {
		CoapHeap struct {
			InUse     int64 `json:"inUse"`
			HighWater int64 `json:"highWater"`
			Cap       int64 `json:"cap"`
		} `json:"coapHeap"`
		RSSBytes int64 `json:"rssBytes"`
	} `json:"memory"`
}

func mgParseStatus(t *testing.T, raw string) mgStatus {
	t.Helper()
	var s mgStatus
	if err := json.Unmarshal([]byte(strings.TrimSpace(raw)), &s); err != nil {
		t.Fatalf("/status is not the expected JSON: %v\n%s", err, raw)
	}
	return s
}

func mgKubeSystemUID(t *testing.T, c *Cluster) string {
	t.Helper()
	ns, err := c.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s kube-system: %v", c.Name, err)
	}
	return string(ns.UID)
}

// mgWaitReady polls `liqoletctl ready` until it exits 0.
func mgWaitReady(t *testing.T, a *mgAgent, args ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, code := mgCtl(t, append([]string{"-s", a.URI, "ready"}, args...)...)
		if code == 0 {
			return
		}
		if done, err := a.Exited(); done {
			t.Fatalf("liqolet exited (%v):\n%s", err, tail(a.LogPath, 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 60 s: liqoletctl ready exit %d: %s%s\n%s", code, out, errOut, tail(a.LogPath, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- tests

// TestMgmtEndpoint: /health, /ready, /.well-known/core, /status (true to the agent and
// the clusters), /metrics and /objects, with the stock libcoap client and liqoletctl;
// the HTTP listener's three paths.
func TestMgmtEndpoint(t *testing.T) {
	a := mgStart(t, "--http-listen", "127.0.0.1:0")
	if !strings.HasPrefix(a.URI, "coap://") || a.HTTP == "" {
		t.Fatalf("endpoint %q, HTTP %q: want plain coap:// and an HTTP port", a.URI, a.HTTP)
	}
	mgWaitReady(t, a)
	homeUID, foreignUID := mgKubeSystemUID(t, tb.Home), mgKubeSystemUID(t, tb.Foreign)

	t.Run("health", func(t *testing.T) {
		if out := mgCoapGet(t, a.URI+"/health"); strings.TrimSpace(out) != "ok" {
			t.Errorf("coap-client /health = %q, want ok", out)
		}
		out, errOut, code := mgCtl(t, "-s", a.URI, "health")
		if code != 0 || strings.TrimSpace(out) != "ok" {
			t.Errorf("liqoletctl health: exit %d, %q %q", code, out, errOut)
		}
		if out, _, code := mgCtl(t, "-s", a.URI, "ready", "-o", "json"); code != 0 || !strings.Contains(out, `"ready":true`) {
			t.Errorf("liqoletctl ready -o json: exit %d, %q", code, out)
		}
	})

	t.Run("well-known-core", func(t *testing.T) {
		out := mgCoapGet(t, a.URI+"/.well-known/core")
		for _, want := range []string{"</health>", "</ready>;obs", "</status>;obs", "</metrics>", "</objects/pods>", "</objects/namespaces>"} {
			if !strings.Contains(out, want) {
				t.Errorf("/.well-known/core lacks %s:\n%s", want, out)
			}
		}
		if !strings.Contains(out, `ct=50`) {
			t.Errorf("/.well-known/core does not give JSON's content format for /status:\n%s", out)
		}
	})

	t.Run("status", func(t *testing.T) {
		// The stock client reassembles Block2 itself; liqoletctl through libcoap too.
		viaCoap := mgParseStatus(t, mgCoapGet(t, a.URI+"/status"))
		out, errOut, code := mgCtl(t, "-s", a.URI, "status", "-o", "json")
		if code != 0 {
			t.Fatalf("liqoletctl status -o json: exit %d: %s", code, errOut)
		}
		s := mgParseStatus(t, out)
		var bad []string
		check := func(ok bool, f string, args ...interface{}) {
			if !ok {
				bad = append(bad, fmt.Sprintf(f, args...))
			}
		}
		for _, st := range []mgStatus{viaCoap, s} {
			check(st.Ready && st.NotReadyReason == "", "ready %v (%q), want true", st.Ready, st.NotReadyReason)
			check(st.Clusters["home"].ID == homeUID, "home id %q, want %q", st.Clusters["home"].ID, homeUID)
			check(st.Clusters["foreign"].ID == foreignUID, "foreign id %q, want %q", st.Clusters["foreign"].ID, foreignUID)
			check(st.Clusters["home"].Reachable && st.Clusters["foreign"].Reachable, "clusters %+v not both reachable", st.Clusters)
			check(strings.HasSuffix(tb.Home.APIServer, st.Clusters["home"].Server), "home server %q is not %s", st.Clusters["home"].Server, tb.Home.APIServer)
			check(strings.HasSuffix(tb.Foreign.APIServer, st.Clusters["foreign"].Server), "foreign server %q is not %s", st.Clusters["foreign"].Server, tb.Foreign.APIServer)
			check(st.VirtualNode.Name == mgNode && st.VirtualNode.Registered && st.VirtualNode.LockHeld,
				"virtual node %+v, want %s registered with the lock held", st.VirtualNode, mgNode)
			check(st.Board == "host" && st.Version != "", "version %q board %q", st.Version, st.Board)
			check(st.Memory.CoapHeap.InUse > 0 && st.Memory.CoapHeap.HighWater <= st.Memory.CoapHeap.Cap,
				"libcoap heap %+v", st.Memory.CoapHeap)
			check(st.Memory.RSSBytes > 0, "rssBytes %d", st.Memory.RSSBytes)
			check(len(st.Objects) == 6, "objects %v: want the six reflected kinds", st.Objects)
		}
		// Connections: the request pools of both clusters, used for the work so far.
		var homeReqs, foreignReqs int64
		for _, c := range s.Connections {
			switch c.Cluster {
			case "home":
				homeReqs += c.Requests
			case "foreign":
				foreignReqs += c.Requests
			default:
				bad = append(bad, "connection of unknown cluster "+c.Cluster)
			}
		}
		check(homeReqs > 0 && foreignReqs > 0, "requests on home %d and foreign %d connections, want both > 0", homeReqs, foreignReqs)
		check(s.Requests["home"].Submitted >= s.Requests["home"].Completed && s.Requests["home"].Completed > 0,
			"home requests %+v", s.Requests["home"])
		// The node the status names exists, and the agent holds the lock Lease it says.
		n, err := tb.Home.Client.CoreV1().Nodes().Get(ctxFor(t, 10*time.Second), mgNode, metav1.GetOptions{})
		check(err == nil && vnNodeReady(n), "node %s in home: %v (ready %v)", mgNode, err, err == nil && vnNodeReady(n))
		lease, err := tb.Home.Client.CoordinationV1().Leases("liqo").Get(ctxFor(t, 10*time.Second), "liqolet-"+foreignUID, metav1.GetOptions{})
		check(err == nil && lease.Spec.HolderIdentity != nil && strings.HasSuffix(*lease.Spec.HolderIdentity, "@"+mgNode),
			"lock Lease of the pair: %v (holder %v, want ...@%s)", err, lease.Spec.HolderIdentity, mgNode)
		if len(bad) > 0 {
			t.Errorf("/status does not match the agent:\n  - %s\n%s", strings.Join(bad, "\n  - "), out)
		}
		t.Logf("libcoap heap %d B in use, high water %d B, cap %d B; resident %d B",
			s.Memory.CoapHeap.InUse, s.Memory.CoapHeap.HighWater, s.Memory.CoapHeap.Cap, s.Memory.RSSBytes)
		// The human view says the same.
		human, _, code := mgCtl(t, "-s", a.URI, "status")
		t.Logf("liqoletctl status:\n%s", human)
		for _, want := range []string{"ready:        yes", mgNode + ": registered", foreignUID, "libcoap heap"} {
			if code != 0 || !strings.Contains(human, want) {
				t.Errorf("liqoletctl status (exit %d) lacks %q:\n%s", code, want, human)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		out := mgCoapGet(t, a.URI+"/metrics")
		for _, want := range []string{"\nliqolet_ready 1\n", "liqolet_cluster_reachable{cluster=\"foreign\"} 1\n",
			"\nliqolet_virtual_node_registered 1\n", "# TYPE liqolet_coap_heap_bytes gauge\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		// Liqo's counters, when present, carry exactly Liqo v0.8's five labels (their
		// values: TestMgmtReflectionCounters).
		lbl := regexp.MustCompile(`^liqo_virtual_kubelet_reflection_(item|error)_counter\{namespace="[^"]*",reflector_resource="[A-Za-z]+",cluster_id="` +
			regexp.QuoteMeta(foreignUID) + `",cluster_name="` + offDeriveName(foreignUID) + `",node_name="` + mgNode + `"\} \d+$`)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "liqo_virtual_kubelet_reflection_") && !lbl.MatchString(line) {
				t.Errorf("Liqo counter with other labels: %q", line)
			}
		}
		samples, js := mgCtlMetrics(t, a)
		found := false
		for _, s := range samples {
			if s.Name == "liqolet_build_info" && s.Labels["board"] == "host" && s.Value == 1 {
				found = true
			}
		}
		if !found {
			t.Errorf("liqoletctl metrics -o json lacks liqolet_build_info{board=\"host\"} 1: %s", js)
		}
	})

	t.Run("objects", func(t *testing.T) {
		out, errOut, code := mgCtl(t, "-s", a.URI, "objects", "pods", "-o", "json")
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Kind != "pods" {
			t.Errorf("liqoletctl objects pods -o json: exit %d, %v, %q %q", code, err, out, errOut)
		}
		if _, errOut, code := mgCtl(t, "-s", a.URI, "objects", "nodes"); code != 2 {
			t.Errorf("liqoletctl objects nodes: exit %d, want 2 (usage): %s", code, errOut)
		}
		if out := mgCoapGet(t, a.URI+"/objects/pods?limit=1"); !strings.Contains(out, "unknown query parameter") {
			t.Errorf("/objects/pods?limit=1 = %q, want a 4.00 diagnostic", out)
		}
	})

	t.Run("http", func(t *testing.T) {
		get := func(method, path string) (int, string) {
			req, _ := http.NewRequest(method, "http://"+a.HTTP+path, nil)
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := get("GET", "/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("GET /healthz = %d %q", code, body)
		}
		if code, body := get("GET", "/readyz"); code != 200 || body != "ready\n" {
			t.Errorf("GET /readyz = %d %q", code, body)
		}
		if code, body := get("GET", "/metrics"); code != 200 || !strings.Contains(body, "\nliqolet_ready 1\n") {
			t.Errorf("GET /metrics = %d (%d bytes)", code, len(body))
		}
		if code, _ := get("GET", "/status"); code != 404 {
			t.Errorf("GET /status over HTTP = %d, want 404 (HTTP serves three paths only)", code)
		}
		if code, _ := get("POST", "/metrics"); code != 405 {
			t.Errorf("POST /metrics = %d, want 405", code)
		}
	})
}

// TestMgmtObserveReadiness: observers of /ready (the stock client and liqoletctl watch)
// are notified when the foreign API server goes away and when it returns.
func TestMgmtObserveReadiness(t *testing.T) {
	a := mgStart(t)
	mgWaitReady(t, a)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// coap-client: -s observes for that many seconds, printing each notification.
	coap := exec.CommandContext(ctx, mgCoapClient(t, "coap-client-notls", "coap-client"), "-m", "get", "-s", "600", a.URI+"/ready")
	watch := exec.CommandContext(ctx, mgCtlPath(t), "-s", a.URI, "watch", "ready", "-o", "json")
	lines := make(chan string, 64)
	for _, c := range []*exec.Cmd{coap, watch} {
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatalf("start %s: %v", c.Path, err)
		}
		name := filepath.Base(c.Path)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					lines <- name + ": " + l
				}
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		_ = coap.Wait()
		_ = watch.Wait()
	})
	// await collects lines until both observers have reported the state: coap-client
	// prints the payload ("ready" or "not ready: <reasons>"), liqoletctl one JSON line.
	await := func(what string, ready bool, timeout time.Duration) {
		t.Helper()
		var got []string
		seenCoap, seenWatch := false, false
		deadline := time.After(timeout)
		for !seenCoap || !seenWatch {
			select {
			case l := <-lines:
				got = append(got, l)
				name, text, _ := strings.Cut(l, ": ")
				switch {
				case strings.HasPrefix(name, "coap-client"):
					if ready {
						seenCoap = seenCoap || text == "ready"
					} else {
						seenCoap = seenCoap || strings.HasPrefix(text, "not ready: foreign API server unreachable")
					}
				case name == "liqoletctl":
					var n struct {
						Ready  bool   `json:"ready"`
						Reason string `json:"reason"`
					}
					if json.Unmarshal([]byte(text), &n) == nil && n.Ready == ready &&
						(ready || strings.HasPrefix(n.Reason, "foreign API server unreachable")) {
						seenWatch = true
					}
				}
			case <-deadline:
				t.Fatalf("%s: not notified within %v (coap-client %v, liqoletctl %v); lines:\n%s\nagent log:\n%s",
					what, timeout, seenCoap, seenWatch, strings.Join(got, "\n"), tail(a.LogPath, 30))
			}
		}
	}
	await("first notification", true, 30*time.Second)

	down := true
	if out, err := tb.Run("stop-apiserver", "foreign"); err != nil {
		t.Cleanup(func() { vnRestartForeign(t) })
		t.Fatalf("stop-apiserver foreign: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if down {
			vnRestartForeign(t)
		}
	})
	// The agent pings the foreign /readyz every 10 s.
	await("not ready after the foreign API server stopped", false, 60*time.Second)

	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Fatalf("start-apiserver foreign: %v\n%s", err, out)
	}
	down = false
	await("ready again after the foreign API server returned", true, 90*time.Second)
}

// TestMgmtDTLSPSK: with --mgmt-psk-file the endpoint speaks DTLS only; the right key
// works (liqoletctl on mbedTLS, coap-client-openssl on OpenSSL), no key or a wrong key
// gets no answer.
func TestMgmtDTLSPSK(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "psk")
	if err := os.WriteFile(key, []byte("e2e-pre-shared-key-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("not-the-right-key-4567\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := mgStart(t, "--mgmt-psk-file", key, "--mgmt-psk-identity", "e2e-operator")
	if !strings.HasPrefix(a.URI, "coaps://") {
		t.Fatalf("endpoint %q, want coaps:// with a PSK", a.URI)
	}
	if logContains(a.LogPath, "e2e-pre-shared-key") {
		t.Errorf("the pre-shared key appears in the log:\n%s", tail(a.LogPath, 20))
	}
	psk := []string{"-s", a.URI, "--psk-file", key, "--psk-identity", "e2e-operator"}
	mgWaitReady(t, a, psk[2:]...)
	out, errOut, code := mgCtl(t, append(psk, "status", "-o", "json")...)
	if code != 0 {
		t.Fatalf("liqoletctl status over DTLS: exit %d: %s", code, errOut)
	}
	s := mgParseStatus(t, out)
	if s.VirtualNode.Name != mgNode || !s.Ready {
		t.Errorf("status over DTLS: node %q ready %v", s.VirtualNode.Name, s.Ready)
	}
	t.Logf("over DTLS: libcoap heap %d B in use, high water %d B, cap %d B",
		s.Memory.CoapHeap.InUse, s.Memory.CoapHeap.HighWater, s.Memory.CoapHeap.Cap)
	// Stock client, other DTLS library: OpenSSL against the agent's mbedTLS.
	ossl := mgCoapClient(t, "coap-client-openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := exec.CommandContext(ctx, ossl, "-m", "get", "-B", "20", "-u", "e2e-operator",
		"-k", "e2e-pre-shared-key-0123", a.URI+"/health").CombinedOutput()
	if err != nil || strings.TrimSpace(string(raw)) != "ok" {
		t.Errorf("coap-client-openssl over DTLS-PSK: %v %q", err, raw)
	}

	for _, c := range []struct {
		what string
		args []string
	}{
		{"plain CoAP to the DTLS port", []string{"-s", "coap://" + a.Addr, "--timeout", "3", "health"}},
		{"a wrong key", []string{"-s", a.URI, "--psk-file", wrong, "--psk-identity", "e2e-operator", "--timeout", "3", "health"}},
		{"a wrong identity", []string{"-s", a.URI, "--psk-file", key, "--psk-identity", "intruder", "--timeout", "3", "health"}},
	} {
		if out, errOut, code := mgCtl(t, c.args...); code != 3 {
			t.Errorf("%s: liqoletctl exit %d (%q %q), want 3 (no answer)", c.what, code, out, errOut)
		}
	}
}

// TestMgmtRefusesNonLoopbackWithoutPSK: a non-loopback address without a key is refused
// at start-up, before anything connects or binds.
func TestMgmtRefusesNonLoopbackWithoutPSK(t *testing.T) {
	bin := BuildLiqolet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--home-kubeconfig", tb.Home.Kubeconfig,
		"--foreign-kubeconfig", tb.Foreign.Kubeconfig, "--node-name", mgNode,
		"--mgmt-listen", "0.0.0.0:0")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("liqolet run --mgmt-listen 0.0.0.0:0: %v, want exit status 1:\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"0.0.0.0:0 is not a loopback address", "--mgmt-psk-file"} {
		if !strings.Contains(s, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, s)
		}
	}
	for _, never := range []string{"listening", "home cluster", "lock:"} {
		if strings.Contains(s, never) {
			t.Errorf("the agent went on (%q) before refusing:\n%s", never, s)
		}
	}
}

// mgSample is one sample of `liqoletctl metrics -o json`.
type mgSample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// mgCtlMetrics reads /metrics over CoAP with liqoletctl; it returns the samples and the
// raw JSON.
func mgCtlMetrics(t *testing.T, a *mgAgent) ([]mgSample, string) {
	t.Helper()
	js, _, code := mgCtl(t, "-s", a.URI, "metrics", "-o", "json")
	var samples []mgSample
	if err := json.Unmarshal([]byte(js), &samples); code != 0 || err != nil {
		t.Fatalf("liqoletctl metrics -o json: exit %d, %v", code, err)
	}
	return samples, js
}

// mgCounter is one sample of Liqo's reflection counters.
type mgCounter struct {
	labels map[string]string
	value  float64
}

var mgCounterRE = regexp.MustCompile(`^(liqo_virtual_kubelet_reflection_(?:item|error)_counter)\{([^}]*)\} (\d+)$`)

// mgCounters reads /metrics over HTTP and returns Liqo's counter samples by family; it
// fails the test on a sample whose label names are not exactly Liqo v0.8's, in order.
func mgCounters(t *testing.T, a *mgAgent) map[string][]mgCounter {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + a.HTTP + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string][]mgCounter{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "liqo_virtual_kubelet_reflection_") {
			continue
		}
		m := mgCounterRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed Liqo counter line %q", line)
		}
		c := mgCounter{labels: map[string]string{}}
		var names []string
		for _, kv := range cfgLabelRE.FindAllStringSubmatch(m[2], -1) {
			names = append(names, kv[1])
			c.labels[kv[1]] = kv[2]
		}
		if got := strings.Join(names, ","); got != "namespace,reflector_resource,cluster_id,cluster_name,node_name" {
			t.Fatalf("Liqo counter with labels %s: %q", got, line)
		}
		c.value, _ = strconv.ParseFloat(m[3], 64)
		out[m[1]] = append(out[m[1]], c)
	}
	return out
}

// TestMgmtReflectionCounters: Liqo's reflection counters count what the agent does. One
// namespace offloaded (--offload), another not: ConfigMaps and a pod are reflected, and
// liqo_virtual_kubelet_reflection_item_counter{namespace,reflector_resource,cluster_id,
// cluster_name,node_name} grows by the reflections made, with the foreign cluster's id
// and name and the virtual node's name; it stays put while nothing changes (a counter
// that grows on its own is the race Liqo's help text warns of); the error counter stays
// absent; the namespace that is not offloaded has no sample; CoAP and HTTP agree.
func TestMgmtReflectionCounters(t *testing.T) {
	id := offIdentities(t)
	ns, other := "mc-"+offRand(6), "mc-"+offRand(6)
	offForeignCleanup(t, id, ns)
	offNamespace(t, tb.Home, ns)
	offNamespace(t, tb.Home, other)
	ctx := ctxFor(t, 10*time.Minute)
	h, f := tb.Home.Client, tb.Foreign.Client
	for _, n := range []string{ns, other} {
		if _, err := h.CoreV1().ConfigMaps(n).Create(ctx, cfgCM("early", map[string]string{"k": "0"}, nil),
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a := mgStart(t, "--offload", ns, "--http-listen", "127.0.0.1:0")
	mgWaitReady(t, a)
	remote := id.defaultName(ns)
	offWaitRemote(t, a.Liqolet, id, remote, ns)
	want := map[string]string{"namespace": ns, "cluster_id": id.foreignID, "cluster_name": id.foreignName, "node_name": mgNode}

	// value of the item (or error) counter of ns for a kind; every sample is checked:
	// labels of this agent, and only the offloaded namespace.
	value := func(family, kind string) (float64, bool) {
		t.Helper()
		for fam, samples := range mgCounters(t, a) {
			for _, c := range samples {
				for _, k := range []string{"cluster_id", "cluster_name", "node_name"} {
					if c.labels[k] != want[k] {
						t.Fatalf("%s sample %v: %s=%q, want %q", fam, c.labels, k, c.labels[k], want[k])
					}
				}
				if c.labels["namespace"] == other {
					t.Fatalf("%s has a sample for %s, which is not offloaded: %v", fam, other, c.labels)
				}
			}
		}
		for _, c := range mgCounters(t, a)[family] {
			if c.labels["namespace"] == ns && c.labels["reflector_resource"] == kind {
				return c.value, true
			}
		}
		return 0, false
	}
	items := "liqo_virtual_kubelet_reflection_item_counter"
	// stable waits until the item counter of kind has not moved for 3 s and returns it.
	stable := func(kind, what string) float64 {
		t.Helper()
		var last float64
		var since time.Time
		deadline := time.Now().Add(cfgTimeout)
		for time.Now().Before(deadline) {
			v, _ := value(items, kind)
			if since.IsZero() || v != last {
				last, since = v, time.Now()
			} else if time.Since(since) >= 3*time.Second {
				return v
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("%s: the %s item counter still moves after %s (last %v)", what, kind, cfgTimeout, last)
		return 0
	}
	remoteCM := func(name, wantData string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			cm, err := f.CoreV1().ConfigMaps(remote).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, ignoreNotFound(err)
			}
			return cm.Data["k"] == wantData, nil
		}
	}

	// The ConfigMap found at start-up (and the home root CA, renamed) reflected.
	Eventually(t, cfgTimeout, "ConfigMap early reflected", remoteCM("early", "0"))
	c0 := stable("ConfigMap", "after start-up")
	if c0 < 2 {
		t.Errorf("ConfigMap item counter %v after early and kube-root-ca.crt were reflected, want >= 2", c0)
	}
	// Three more: at least one reflection each, and not a storm.
	for i := 1; i <= 3; i++ {
		if _, err := h.CoreV1().ConfigMaps(ns).Create(ctx, cfgCM(fmt.Sprintf("cm-%d", i), map[string]string{"k": "1"}, nil),
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		Eventually(t, cfgTimeout, fmt.Sprintf("ConfigMap cm-%d reflected", i), remoteCM(fmt.Sprintf("cm-%d", i), "1"))
	}
	c1 := stable("ConfigMap", "after three creations")
	if d := c1 - c0; d < 3 || d > 6 {
		t.Errorf("ConfigMap item counter %v -> %v after three new ConfigMaps: +%v, want +3..+6 (one pass each, at most one more for an event that raced it)", c0, c1, d)
	}
	// Nothing changes: nothing counted.
	time.Sleep(5 * time.Second)
	if v, _ := value(items, "ConfigMap"); v != c1 {
		t.Errorf("ConfigMap item counter moved from %v to %v while nothing changed", c1, v)
	}
	// One update: one more reflection (or two).
	if _, err := h.CoreV1().ConfigMaps(ns).Patch(ctx, "cm-2", types.MergePatchType, []byte(`{"data":{"k":"2"}}`),
		metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, cfgTimeout, "the update of cm-2 reflected", remoteCM("cm-2", "2"))
	c2 := stable("ConfigMap", "after one update")
	if d := c2 - c1; d < 1 || d > 2 {
		t.Errorf("ConfigMap item counter %v -> %v after one update: +%v, want +1..+2", c1, c2, d)
	}

	// A pod: created remotely (one reflection), then its status comes back (at least one
	// more: the remote pod goes Running after it was created).
	if v, ok := value(items, "Pod"); ok {
		t.Errorf("Pod item counter %v before any pod", v)
	}
	Eventually(t, 2*time.Minute, "default ServiceAccount of "+remote, func(ctx context.Context) (bool, error) {
		_, err := f.CoreV1().ServiceAccounts(remote).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "counted"},
		Spec: corev1.PodSpec{NodeName: mgNode, Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
	if _, err := h.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "pod counted running remotely, Running at home", func(ctx context.Context) (bool, error) {
		rp, err := f.CoreV1().Pods(remote).Get(ctx, "counted", metav1.GetOptions{})
		if err != nil {
			return false, ignoreNotFound(err)
		}
		hp, err := h.CoreV1().Pods(ns).Get(ctx, "counted", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return rp.Status.Phase == corev1.PodRunning && hp.Status.Phase == corev1.PodRunning, nil
	})
	p1 := stable("Pod", "after the pod runs")
	if p1 < 2 || p1 > 8 {
		t.Errorf("Pod item counter %v after one pod was created and went Running, want 2..8", p1)
	}
	if v, _ := value(items, "ConfigMap"); v != c2 {
		t.Errorf("ConfigMap item counter moved from %v to %v with no ConfigMap change", c2, v)
	}
	for _, c := range mgCounters(t, a)["liqo_virtual_kubelet_reflection_error_counter"] {
		if c.labels["namespace"] == ns {
			t.Errorf("error counter %v = %v: no reflection of this test should fail", c.labels, c.value)
		}
	}

	// The same value through CoAP (liqoletctl) as through HTTP.
	samples, _ := mgCtlMetrics(t, a)
	got := -1.0
	for _, s := range samples {
		if s.Name == items && s.Labels["namespace"] == ns && s.Labels["reflector_resource"] == "ConfigMap" &&
			s.Labels["cluster_name"] == id.foreignName {
			got = s.Value
		}
	}
	if got != c2 {
		t.Errorf("CoAP says the ConfigMap item counter is %v, HTTP %v", got, c2)
	}
	t.Logf("item counters of %s: ConfigMap %v -> %v -> %v -> %v, Pod %v", ns, 0, c0, c1, c2, p1)
}
