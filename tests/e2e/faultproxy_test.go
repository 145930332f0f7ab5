package e2e

// Hostile networks (issue 17): the agent's API connections go through tools/faultproxy, a
// real TCP proxy on loopback that forwards the TLS bytes untouched and injects faults at
// run time (latency, a 1-byte/s trickle, a stall or a reset in the middle of a response,
// a silent blackhole). Under each the agent must not crash (PID alive, /healthz 200), no
// pod may be lost or doubled (home pods on the node against remote pods by name and
// home-pod-uid), the node's readiness must tell the truth, and after the fault clears
// everything must converge within the documented bounds (docs/testing.md).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	fpBuildOnce sync.Once
	fpBin       string
	fpBuildErr  error
)

// buildFaultProxy builds tools/faultproxy once per test binary (standard library only: no
// module download). LIQOLET_FAULTPROXY_BIN names a binary built elsewhere.
func buildFaultProxy(t *testing.T) string {
	t.Helper()
	fpBuildOnce.Do(func() {
		if p := os.Getenv("LIQOLET_FAULTPROXY_BIN"); p != "" {
			fpBin = p
			return
		}
		out := filepath.Join(tb.Top, "build", "host", "faultproxy")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = filepath.Join(tb.Top, "tools", "faultproxy")
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOPROXY=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			fpBuildErr = fmt.Errorf("go build tools/faultproxy: %v\n%s", err, b)
			return
		}
		fpBin = out
	})
	if fpBuildErr != nil {
		t.Fatal(fpBuildErr)
	}
	return fpBin
}

// faultProxy is a running tools/faultproxy in front of one API server.
type faultProxy struct {
	Addr    string // 127.0.0.1:PORT the agent connects to
	Control string // 127.0.0.1:PORT of the control endpoint
}

func startFaultProxy(t *testing.T, apiServer string) *faultProxy {
	t.Helper()
	u, err := url.Parse(apiServer)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildFaultProxy(t), "-target", u.Host)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "faultproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var s string
	select {
	case s = <-line:
	case <-time.After(30 * time.Second):
		t.Fatal("faultproxy printed no address within 30 s")
	}
	p := &faultProxy{}
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, "listen="); ok {
			p.Addr = v
		}
		if v, ok := strings.CutPrefix(f, "control="); ok {
			p.Control = v
		}
	}
	if p.Addr == "" || p.Control == "" {
		t.Fatalf("faultproxy: unexpected first line %q", s)
	}
	return p
}

// set switches the fault ("mode=stall&after=300").
func (p *faultProxy) set(t *testing.T, q string) {
	t.Helper()
	resp, err := http.Post("http://"+p.Control+"/fault?"+q, "text/plain", nil)
	if err != nil {
		t.Fatalf("faultproxy %s: %v", q, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("faultproxy %s: %d %s", q, resp.StatusCode, b)
	}
	t.Logf("fault: %s", q)
}

func (p *faultProxy) stats(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + p.Control + "/stats")
	if err != nil {
		t.Fatalf("faultproxy stats: %v", err)
	}
	defer resp.Body.Close()
	m := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("faultproxy stats: %v", err)
	}
	return m
}

// through copies a kubeconfig with its server replaced by the proxy's address. The API
// server's certificate names 127.0.0.1 (an IP SAN holds for every port).
func (p *faultProxy) through(t *testing.T, src string) string {
	return editKubeconfig(t, src, func(server *string, _ *[]byte, _ *string, _, _ *[]byte) {
		*server = "https://" + p.Addr
	})
}

// fpToken is the bearer token of a kubeconfig's current user (inline or from its file).
func fpToken(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	au := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	if au.Token == "" && au.TokenFile != "" {
		b, err := os.ReadFile(au.TokenFile)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	return au.Token
}

// fpAgent is the agent under test, its management HTTP address and the test's namespaces.
type fpAgent struct {
	l          *Liqolet
	http       string
	ns, remote string
}

// fpStart starts the agent as podsStart does (node, offloaded namespace, remote namespace,
// node Ready) with the home and foreign kubeconfigs given (later flags win over
// offStartAgent's) and the management HTTP listener on loopback.
func fpStart(t *testing.T, home, foreign string, extra ...string) *fpAgent {
	t.Helper()
	l, ns, remote := podsStart(t, append([]string{"--home-kubeconfig", home, "--foreign-kubeconfig", foreign,
		"--mgmt-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"}, extra...)...)
	a := &fpAgent{l: l, ns: ns, remote: remote}
	b, _ := os.ReadFile(l.LogPath)
	m := mgHTTPRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no 'mgmt: HTTP listening' line once the node is Ready:\n%s", tail(l.LogPath, 40))
	}
	a.http = "127.0.0.1:" + string(m[1])
	return a
}

// alive fails the test when the agent has exited or /healthz does not answer 200.
func (a *fpAgent) alive(t *testing.T, when string) {
	t.Helper()
	if done, err := a.l.Exited(); done {
		t.Fatalf("%s: liqolet exited (%v):\n%s", when, err, tail(a.l.LogPath, 60))
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + a.http + "/healthz")
	if err != nil {
		t.Fatalf("%s: /healthz: %v", when, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Fatalf("%s: /healthz = %d %q, want 200 \"ok\\n\"", when, resp.StatusCode, b)
	}
}

// noLostOrDoubled compares the home pods of sel with the remote ones: every home pod has
// exactly one remote pod of its name whose liqolet.io/home-pod-uid is its uid, and no
// remote pod is left without its home pod. "" when so.
func (a *fpAgent) noLostOrDoubled(ctx context.Context, sel string, n int) (string, error) {
	home, err := podsList(ctx, tb.Home, a.ns, sel)
	if err != nil {
		return "", err
	}
	rem, err := podsList(ctx, tb.Foreign, a.remote, sel)
	if err != nil {
		return "", err
	}
	if len(home) != n {
		return fmt.Sprintf("%d home pods, want %d", len(home), n), nil
	}
	byUID := map[types.UID]string{}
	for _, h := range home {
		byUID[h.UID] = h.Name
	}
	seen := map[string]int{}
	for _, r := range rem {
		uid := types.UID(r.Annotations["liqolet.io/home-pod-uid"])
		name, ok := byUID[uid]
		if !ok || name != r.Name {
			return fmt.Sprintf("remote pod %s (home uid %q) has no home pod", r.Name, uid), nil
		}
		seen[name]++
	}
	for _, h := range home {
		if seen[h.Name] != 1 {
			return fmt.Sprintf("home pod %s has %d remote pods", h.Name, seen[h.Name]), nil
		}
	}
	return "", nil
}

// converge waits until the pods of sel are in sync (podsInSync: the forge's remote pods,
// status reflected, no remote-unavailable label) and one-to-one, and returns how long it
// took.
func (a *fpAgent) converge(t *testing.T, sel string, n int, bound time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	var why, first string
	for time.Since(start) < bound {
		if done, err := a.l.Exited(); done {
			t.Fatalf("liqolet exited (%v) while waiting for %s:\n%s", err, what, tail(a.l.LogPath, 60))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w, err := podsInSync(ctx, a.ns, a.remote, sel, n, true)
		if err == nil && w == "" {
			w, err = a.noLostOrDoubled(ctx, sel, n)
		}
		cancel()
		if err == nil && w == "" {
			d := time.Since(start)
			if first != "" {
				t.Logf("%s: converged in %v (at first: %s)", what, d.Round(100*time.Millisecond), first)
			} else {
				t.Logf("%s: converged in %v", what, d.Round(100*time.Millisecond))
			}
			return d
		}
		if err != nil {
			why = err.Error()
		} else {
			why = w
		}
		if first == "" {
			first = why
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not converged within %v: %s", what, bound, why)
	return 0
}

func (a *fpAgent) scale(t *testing.T, name string, n int32) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
	if _, err := tb.Home.Client.AppsV1().Deployments(a.ns).Patch(ctx, name, types.MergePatchType,
		[]byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// fpRecoveryBound is the documented bound for convergence after a fault clears: a
// connection the fault left dead is only noticed by its deadline (requests 30 s idle or
// 60 s total, watches LQ_WATCH_IDLE_MS = 180 s without a byte), then resumed after a
// backoff of at most 30 s; the reflection that follows takes seconds.
const fpRecoveryBound = 240 * time.Second

// TestFaultProxyForeign: the foreign kubeconfig through the proxy. One agent, a
// Deployment of pods on the virtual node, and each fault in turn while the Deployment is
// scaled: the agent lives, pods are neither lost nor doubled, and after the fault clears
// home and foreign converge. Under a blackhole the home pods are labelled
// liqo.io/remote-unavailable (the foreign cluster cannot vouch for them) and the label goes
// once the proxy forwards again.
func TestFaultProxyForeign(t *testing.T) {
	fp := startFaultProxy(t, tb.Foreign.APIServer)
	// debug: the connection errors (which deadline cut what) are logged at that level
	a := fpStart(t, tb.Home.LiqoletCertKubeconfig, fp.through(t, tb.Foreign.LiqoletTokenKubeconfig),
		"--log-level", "debug")
	ctx := ctxFor(t, 10*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(a.ns).Create(ctx, podsDeployment("fp", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.converge(t, "app=fp", 2, podsTimeout, "before any fault")
	replicas := int32(2)

	steps := []struct {
		name, fault string
		hold        time.Duration
	}{
		// 150 ms each way on every piece: slower, never unavailable (the 1 s ping fits).
		{"latency", "mode=latency&ms=150", 0},
		// One byte a second from the server: a TLS record of a small response takes
		// minutes, so requests are cut by their head timeout (30 s; the 1 s pings at
		// once), watches trickle on; held past one head timeout.
		{"trickle", "mode=trickle&rate=1", 35 * time.Second},
		// Every connection reset 700 bytes into the next response (mid TLS record).
		{"reset", "mode=reset&after=700", 15 * time.Second},
		// Every connection stops forwarding 700 bytes into the next response.
		{"stall", "mode=stall&after=700", 15 * time.Second},
	}
	for _, s := range steps {
		replicas++
		fp.set(t, s.fault)
		a.scale(t, "fp", replicas)
		if s.hold == 0 {
			a.converge(t, "app=fp", int(replicas), podsTimeout, s.name+" (under the fault)")
		} else {
			time.Sleep(s.hold)
		}
		a.alive(t, "under "+s.name)
		fp.set(t, "mode=none")
		a.converge(t, "app=fp", int(replicas), fpRecoveryBound, s.name+" cleared")
		a.alive(t, "after "+s.name)
	}

	// Blackhole: the pods are labelled unavailable and not Ready (two failed pings, 10-20 s;
	// the same bound as TestPodsRemoteUnavailable), and converge after the return.
	fp.set(t, "mode=blackhole")
	black := time.Now()
	Eventually(t, 60*time.Second, "home pods labelled "+remoteUnavailable+"=true and not Ready", func(ctx context.Context) (bool, error) {
		h, err := podsList(ctx, tb.Home, a.ns, "app=fp")
		if err != nil || len(h) != int(replicas) {
			return false, err
		}
		for _, p := range h {
			if p.Labels[remoteUnavailable] != "true" || podReadyStatus(&p) != corev1.ConditionFalse {
				return false, nil
			}
		}
		return true, nil
	})
	t.Logf("blackhole: pods labelled unavailable after %v", time.Since(black).Round(100*time.Millisecond))
	a.alive(t, "under blackhole")
	fp.set(t, "mode=none")
	a.converge(t, "app=fp", int(replicas), fpRecoveryBound, "blackhole cleared")
	a.alive(t, "after blackhole")
	st := fp.stats(t)
	t.Logf("proxy: %v", st)
	// The agent noticed the dead and slow flows by its deadlines, not by luck.
	b, _ := os.ReadFile(a.l.LogPath)
	cuts := 0
	for _, m := range []string{"no response within", "response stalled", "(total deadline)"} {
		n := strings.Count(string(b), m)
		cuts += n
		t.Logf("agent log: %d x %q", n, m)
	}
	if cuts == 0 {
		t.Errorf("no request was cut by a deadline under trickle, stall or blackhole")
	}
	if tok := fpToken(t, tb.Foreign.LiqoletTokenKubeconfig); tok == "" {
		t.Errorf("no token in %s", tb.Foreign.LiqoletTokenKubeconfig)
	} else if strings.Contains(string(b), tok) {
		t.Errorf("the debug log shows the foreign token")
	}
	if st["resets"].(float64) == 0 || st["stalls"].(float64) == 0 || st["blackholed"].(float64) == 0 {
		t.Errorf("the faults did not bite: %v", st)
	}
}

// TestFaultProxyHome: the home kubeconfig through the proxy. A blackhole stops the node
// Lease renewals: the controller-manager marks the virtual node NotReady (the test bed's
// node-monitor grace is 20 s), the agent lives, no pod is lost; after the fault clears the
// node is Ready again and the pods converge. Latency alone keeps the node Ready.
func TestFaultProxyHome(t *testing.T) {
	fp := startFaultProxy(t, tb.Home.APIServer)
	a := fpStart(t, fp.through(t, tb.Home.LiqoletCertKubeconfig), tb.Foreign.LiqoletTokenKubeconfig)
	ctx := ctxFor(t, 10*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(a.ns).Create(ctx, podsDeployment("fph", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.converge(t, "app=fph", 2, podsTimeout, "before any fault")

	fp.set(t, "mode=latency&ms=150")
	a.scale(t, "fph", 3)
	a.converge(t, "app=fph", 3, podsTimeout, "home latency")
	waitVirtualNode(t, a.l, 5*time.Second, "Ready under latency", vnExistsAndReady)
	fp.set(t, "mode=none")

	fp.set(t, "mode=blackhole")
	black := time.Now()
	waitVirtualNode(t, a.l, 90*time.Second, "NotReady while home is blackholed", func(n *corev1.Node) string {
		if n == nil {
			return "no node"
		}
		if vnNodeReady(n) {
			return "still Ready"
		}
		return ""
	})
	t.Logf("home blackhole: node NotReady after %v", time.Since(black).Round(100*time.Millisecond))
	a.alive(t, "under home blackhole")
	fp.set(t, "mode=none")
	back := time.Now()
	waitVirtualNode(t, a.l, fpRecoveryBound, "Ready again after the blackhole", vnExistsAndReady)
	t.Logf("home blackhole cleared: node Ready after %v", time.Since(back).Round(100*time.Millisecond))
	a.converge(t, "app=fph", 3, fpRecoveryBound, "home blackhole cleared")
	a.alive(t, "after home blackhole")
	if st := fp.stats(t); st["blackholed"].(float64) == 0 {
		t.Errorf("the blackhole did not bite: %v", st)
	}
}
