package e2e

// Side-by-side benchmark (issue 15 part 2; `make bench-peers`, tools/bench-peers/README.md,
// docs/benchmarks.md "bench-peers"). It runs only with LIQOLET_BENCH=1 and
// LIQOLET_BENCH_OUT=<dir>: it measures, it asserts nothing about speed.
//
// The workloads of bench-pods (benchWorkload: 110 pods, with LIQOLET_BENCH_LARGE=1 also
// 1,000, each in a burst of 16 creators and paced at 20/s) run, workload by workload, against
// each peer of LIQOLET_BENCH_PEERS in turn, on the same clusters, each run with a freshly
// started peer: liqolet (this tree's agent, or LIQOLET_AGENT_BIN) started as bench-pods starts it, and
// every other peer through tools/bench-peers/<peer>/run. While a peer runs, the VmRSS of every
// process it reported is sampled every 250 ms. Into LIQOLET_BENCH_OUT go summary.csv,
// rss.csv, rss-roles.csv, latency.csv and table.md (tools/bench-peers/plot draws the pictures).

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const benchPeersAll = "liqolet minvk direct liqo"

// benchProcRSS reads VmRSS (KiB) of pid; 0 when it is gone.
func benchProcRSS(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return 0
}

// peerProc is one process a peer reported.
type peerProc struct {
	pid  int
	role string
}

type rssSample struct {
	at  time.Time
	rss []int64 // per process, in the order of the peer's processes
}

// rssSampler samples VmRSS of procs every 250 ms until stopped.
type rssSampler struct {
	procs []peerProc
	mu    sync.Mutex
	s     []rssSample
	stop  chan struct{}
	done  chan struct{}
}

func startSampler(procs []peerProc) *rssSampler {
	r := &rssSampler{procs: procs, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			smp := rssSample{at: time.Now(), rss: make([]int64, len(procs))}
			for i, p := range procs {
				smp.rss[i] = benchProcRSS(p.pid)
			}
			r.mu.Lock()
			r.s = append(r.s, smp)
			r.mu.Unlock()
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

func (r *rssSampler) Stop() []rssSample {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s
}

// peerRun is one peer × workload.
type peerRun struct {
	peer, workload string
	procs          []peerProc
	res            benchResult
	idleKiB        int64
	peakKiB        int64 // largest sampled sum of VmRSS
	samples        []rssSample
	roleHWM        map[string]int64
}

func benchWorkloadName(n, perSecond int) string {
	if perSecond > 0 {
		return fmt.Sprintf("%d-paced%d", n, perSecond)
	}
	return fmt.Sprintf("%d-burst", n)
}

// benchPeerRunScript is tools/bench-peers/<peer>/run, or "" when there is none.
func benchPeerRunScript(peer string) string {
	p := filepath.Join(tb.Top, "tools", "bench-peers", peer, "run")
	if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// startExternalPeer starts tools/bench-peers/<peer>/run for a fresh home namespace and waits
// for `ready`. When the test ends the peer gets SIGTERM (SIGKILL for it and its reported
// processes after 90 s), and its node, remote namespace and home namespace are made sure gone.
func startExternalPeer(t *testing.T, peer string) (procs []peerProc, ns, remote string) {
	t.Helper()
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, true) })
	ns = "bp-" + offRand(6)
	offNamespace(t, tb.Home, ns)
	Eventually(t, time.Minute, "default ServiceAccount of "+ns, func(ctx context.Context) (bool, error) {
		_, err := tb.Home.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	work := t.TempDir()
	logPath := filepath.Join(work, "peer.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(benchPeerRunScript(peer))
	cmd.Env = append(os.Environ(),
		"BENCH_HOME_KUBECONFIG="+tb.Home.Kubeconfig,
		"BENCH_FOREIGN_KUBECONFIG="+tb.Foreign.Kubeconfig,
		"BENCH_NODE="+vnodeName,
		"BENCH_NAMESPACE="+ns,
		"BENCH_WORK="+work,
		"BENCH_BUILD="+benchBuildDir())
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	var waitErr error
	ready := make(chan struct{})
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			mu.Lock()
			switch {
			case len(f) == 3 && f[0] == "pid":
				if pid, err := strconv.Atoi(f[1]); err == nil {
					procs = append(procs, peerProc{pid: pid, role: f[2]})
				}
			case len(f) == 2 && f[0] == "remote-namespace":
				remote = f[1]
			case len(f) == 1 && f[0] == "ready":
				select {
				case <-ready:
				default:
					close(ready)
				}
			}
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		waitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			var ee *exec.ExitError
			if waitErr != nil && !(errors.As(waitErr, &ee) && ee.ExitCode() == -1) {
				t.Errorf("%s exited with %v after SIGTERM; log:\n%s", peer, waitErr, tail(logPath, 40))
			}
		case <-time.After(90 * time.Second):
			t.Errorf("%s ignored SIGTERM for 90 s: killed; log:\n%s", peer, tail(logPath, 40))
			_ = cmd.Process.Kill()
			mu.Lock()
			for _, p := range procs {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
			mu.Unlock()
			<-exited
		}
		if remote != "" {
			benchRemoteGone(t, remote)
		}
		benchKeepLog(t, logPath)
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("%s exited before ready (%v); log:\n%s", peer, waitErr, tail(logPath, 60))
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s not ready within 5 min; log:\n%s", peer, tail(logPath, 60))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(procs) == 0 || remote == "" {
		t.Fatalf("%s said ready without pid or remote-namespace lines; log:\n%s", peer, tail(logPath, 60))
	}
	return append([]peerProc(nil), procs...), ns, remote
}

// benchKeepLog copies a peer's log to <LIQOLET_BENCH_OUT>/logs/, named after the test.
func benchKeepLog(t *testing.T, logPath string) {
	if out := os.Getenv("LIQOLET_BENCH_OUT"); out != "" {
		if b, err := os.ReadFile(logPath); err == nil {
			_ = os.MkdirAll(filepath.Join(out, "logs"), 0o755)
			_ = os.WriteFile(filepath.Join(out, "logs", strings.ReplaceAll(t.Name(), "/", "_")+".log"), b, 0o644)
		}
	}
}

// benchRemoteGone deletes foreign namespace name if a peer left it and waits until it is gone.
func benchRemoteGone(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := tb.Foreign.Client.CoreV1().Namespaces()
	for {
		n, err := c.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if err == nil && n.DeletionTimestamp == nil {
			t.Logf("remote namespace %s left behind by the peer: deleting it", name)
			_ = c.Delete(ctx, name, metav1.DeleteOptions{})
		}
		if ctx.Err() != nil {
			t.Errorf("remote namespace %s not gone within 2 min", name)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func benchBuildDir() string {
	if d := os.Getenv("BENCH_BUILD"); d != "" {
		return d
	}
	return filepath.Join(tb.Top, "build", "bench-peers", "bin")
}

// benchPeerRun runs one workload against a fresh peer.
func benchPeerRun(t *testing.T, peer string, n, perSecond int) *peerRun {
	var procs []peerProc
	var ns, remote string
	if peer == "liqolet" {
		l, lns, lremote := podsStart(t)
		procs, ns, remote = []peerProc{{pid: l.Cmd.Process.Pid, role: "agent"}}, lns, lremote
		t.Cleanup(func() { benchKeepLog(t, l.LogPath) }) // runs before the agent's log is removed
	} else {
		procs, ns, remote = startExternalPeer(t, peer)
	}
	if n > 200 {
		benchNodes(t, (n-200)/240+1)
	}
	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.pid
	}
	smp := startSampler(procs)
	// Idle: a settled peer with its node Ready and nothing to do.
	time.Sleep(3 * time.Second)
	pr := &peerRun{peer: peer, workload: benchWorkloadName(n, perSecond), procs: procs, roleHWM: map[string]int64{}}
	for _, p := range procs {
		pr.idleKiB += benchProcRSS(p.pid)
	}
	pr.res = benchWorkload(t, vnodeName, ns, remote, pids, n, perSecond)
	for _, p := range procs {
		_, h, _ := benchProc(p.pid)
		pr.roleHWM[p.role] += h
	}
	pr.samples = smp.Stop()
	for _, s := range pr.samples {
		var sum int64
		for _, v := range s.rss {
			sum += v
		}
		pr.peakKiB = max(pr.peakKiB, sum)
	}
	t.Logf("%s %s: %d/%d Running in %.1f s, hop 2 p99 %.3f s, CPU %.2f s, VmHWM %d KiB, idle RSS %d KiB",
		peer, pr.workload, pr.res.running, n, pr.res.total.Seconds(), pct(pr.res.h2, 0.99).Seconds(),
		float64(pr.res.cpuMs)/1000, pr.res.hwmAllKiB, pr.idleKiB)
	return pr
}

func TestBenchPeers(t *testing.T) {
	if os.Getenv("LIQOLET_BENCH") == "" {
		t.Skip("benchmark: run with LIQOLET_BENCH=1 (make bench-peers)")
	}
	out := os.Getenv("LIQOLET_BENCH_OUT")
	if out == "" {
		t.Fatal("LIQOLET_BENCH_OUT=<directory> is needed (make bench-peers sets it)")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	want := os.Getenv("LIQOLET_BENCH_PEERS")
	if strings.TrimSpace(want) == "" {
		want = benchPeersAll
	}
	var peers []string
	for _, p := range strings.Fields(want) {
		if p != "liqolet" && benchPeerRunScript(p) == "" {
			t.Logf("peer %s: no tools/bench-peers/%s/run in this tree: left out", p, p)
			continue
		}
		peers = append(peers, p)
	}
	// Build every peer before measuring any.
	for _, p := range peers {
		if p == "liqolet" {
			BuildLiqolet(t)
			continue
		}
		cmd := exec.Command(benchPeerRunScript(p), "build")
		cmd.Env = append(os.Environ(), "BENCH_BUILD="+benchBuildDir())
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s build: %v", p, err)
		}
		t.Logf("peer %s built in %.1f s", p, time.Since(start).Seconds())
	}
	sizes := []int{110}
	if os.Getenv("LIQOLET_BENCH_LARGE") != "" {
		sizes = append(sizes, 1000)
	}
	// Workload by workload, the peers one after another: on a shared machine whose load
	// drifts over minutes, the peers measured side by side see the most similar conditions.
	var runs []*peerRun
	for _, n := range sizes {
		for _, rate := range []int{0, 20} {
			for _, p := range peers {
				p, n, rate := p, n, rate
				t.Run(p+"/"+benchWorkloadName(n, rate), func(t *testing.T) {
					runs = append(runs, benchPeerRun(t, p, n, rate))
				})
			}
		}
	}
	if err := benchPeersWrite(out, runs); err != nil {
		t.Fatal(err)
	}
	table := benchPeersTable(runs)
	if err := os.WriteFile(filepath.Join(out, "table.md"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Print(table)
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 4, 64) }

func benchPeersWrite(dir string, runs []*peerRun) error {
	write := func(name string, rows [][]string) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		_ = w.WriteAll(rows)
		if err := w.Error(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	summary := [][]string{{"peer", "workload", "pods", "mode", "running_at_home", "timed_hop1", "timed_hop2",
		"hop1_p50_s", "hop1_p99_s", "hop2_p50_s", "hop2_p99_s", "all_running_s",
		"deleted_s", "cpu_s", "cpu_with_delete_s", "vmhwm_kib", "vmhwm_at_all_running_kib", "rss_peak_kib", "idle_rss_kib",
		"processes", "vmhwm_by_role_kib"}}
	rss := [][]string{{"peer", "workload", "t_seconds", "rss_kib"}}
	roles := [][]string{{"peer", "workload", "role", "pid", "t_seconds", "rss_kib"}}
	lat := [][]string{{"peer", "workload", "hop", "seconds"}}
	for _, r := range runs {
		var rl []string
		for role, h := range r.roleHWM {
			rl = append(rl, fmt.Sprintf("%s=%d", role, h))
		}
		sort.Strings(rl)
		res := r.res
		summary = append(summary, []string{r.peer, r.workload, strconv.Itoa(res.n), res.mode(), strconv.Itoa(res.running),
			strconv.Itoa(len(res.h1)), strconv.Itoa(len(res.h2)),
			secs(pct(res.h1, 0.5)), secs(pct(res.h1, 0.99)), secs(pct(res.h2, 0.5)), secs(pct(res.h2, 0.99)),
			secs(res.total), secs(res.deleted), strconv.FormatFloat(float64(res.cpuMs)/1000, 'f', 2, 64),
			strconv.FormatFloat(float64(res.cpuAllMs)/1000, 'f', 2, 64),
			strconv.FormatInt(res.hwmAllKiB, 10), strconv.FormatInt(res.hwmKiB, 10),
			strconv.FormatInt(r.peakKiB, 10), strconv.FormatInt(r.idleKiB, 10),
			strconv.Itoa(len(r.procs)), strings.Join(rl, ";")})
		for _, s := range r.samples {
			t := s.at.Sub(res.start).Seconds()
			var sum int64
			for i, v := range s.rss {
				sum += v
				roles = append(roles, []string{r.peer, r.workload, r.procs[i].role, strconv.Itoa(r.procs[i].pid),
					strconv.FormatFloat(t, 'f', 3, 64), strconv.FormatInt(v, 10)})
			}
			rss = append(rss, []string{r.peer, r.workload, strconv.FormatFloat(t, 'f', 3, 64), strconv.FormatInt(sum, 10)})
		}
		for _, h := range []struct {
			name string
			d    []time.Duration
		}{{"hop1", res.h1}, {"hop2", res.h2}} {
			d := append([]time.Duration(nil), h.d...)
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			for _, v := range d {
				lat = append(lat, []string{r.peer, r.workload, h.name, secs(v)})
			}
		}
	}
	for name, rows := range map[string][][]string{"summary.csv": summary, "rss.csv": rss, "rss-roles.csv": roles, "latency.csv": lat} {
		if err := write(name, rows); err != nil {
			return err
		}
	}
	return nil
}

// benchPeersTable renders the runs as a markdown table with ratios peer ÷ liqolet (same workload).
func benchPeersTable(runs []*peerRun) string {
	base := map[string]*peerRun{}
	for _, r := range runs {
		if r.peer == "liqolet" {
			base[r.workload] = r
		}
	}
	ratio := func(v, b float64) string {
		if b <= 0 {
			return ""
		}
		if v/b < 1 {
			return fmt.Sprintf(" (%.2f×)", v/b)
		}
		return fmt.Sprintf(" (%.1f×)", v/b)
	}
	var b strings.Builder
	b.WriteString("| peer | workload | Running at home | VmHWM | CPU | all Running after | hop 1 p50 / p99 | hop 2 p50 / p99 | idle RSS |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		res := r.res
		l := base[r.workload]
		var lh, lc, lt, l1, l2 float64
		if l != nil && l != r {
			lh, lc, lt = float64(l.res.hwmAllKiB), float64(l.res.cpuMs), l.res.total.Seconds()
			l1, l2 = pct(l.res.h1, 0.99).Seconds(), pct(l.res.h2, 0.99).Seconds()
		}
		h1, h2 := pct(res.h1, 0.99).Seconds(), pct(res.h2, 0.99).Seconds()
		fmt.Fprintf(&b, "| %s | %s | %d/%d | %.1f MiB%s | %.2f s%s | %.1f s%s | %.0f / %.0f ms%s | %.0f / %.0f ms%s | %.1f MiB |\n",
			r.peer, strings.Replace(r.workload, "-", " ", 1), res.running, res.n,
			float64(res.hwmAllKiB)/1024, ratio(float64(res.hwmAllKiB), lh),
			float64(res.cpuMs)/1000, ratio(float64(res.cpuMs), lc),
			res.total.Seconds(), ratio(res.total.Seconds(), lt),
			pct(res.h1, 0.5).Seconds()*1000, h1*1000, ratio(h1, l1),
			pct(res.h2, 0.5).Seconds()*1000, h2*1000, ratio(h2, l2),
			float64(r.idleKiB)/1024)
	}
	return b.String()
}
