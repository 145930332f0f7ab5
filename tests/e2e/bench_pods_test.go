package e2e

// Pod offloading benchmark (issue 6; `make bench-pods`, numbers in docs/benchmarks.md).
// It runs only with LIQOLET_BENCH=1: it measures, it asserts nothing about speed.
//
// For each run a fresh agent offloads a fresh namespace; N pods are created at home with
// spec.nodeName = the virtual node (bound at creation), either all at once (burst, 16
// creators) or paced. Two watches time-stamp, per pod:
//   hop 1: home pod ADDED            -> remote pod ADDED in the foreign cluster
//   hop 2: remote pod Running        -> home pod Running
// and the agent's CPU time (utime+stime) and VmHWM are read from /proc at the end.
// For runs above what the two kwok nodes hold (110 pods each), extra kwok nodes are
// added to the foreign cluster for the run.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

type benchTimes struct {
	homeAdded, remoteAdded, remoteRunning, homeRunning time.Time
}

type benchRec struct {
	mu sync.Mutex
	m  map[string]*benchTimes
}

func (b *benchRec) get(name string) *benchTimes {
	t := b.m[name]
	if t == nil {
		t = &benchTimes{}
		b.m[name] = t
	}
	return t
}

// benchWatch time-stamps the pods of ns labelled bench=1 in rec. A watch the API server
// ends (it may, under load) is resumed from the last resourceVersion seen, or from a fresh
// list when that is too old; a resumption is logged, as its time stamps are late by the gap.
func benchWatch(ctx context.Context, t *testing.T, c *Cluster, ns string, home bool, rec *benchRec) {
	// The suite's clients time out after 30 s, which would end a watch: use one without.
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 0
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Errorf("client for %s: %v", c.Name, err)
		return
	}
	note := func(p *corev1.Pod, now time.Time) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		bt := rec.get(p.Name)
		if home {
			if bt.homeAdded.IsZero() {
				bt.homeAdded = now
			}
			if bt.homeRunning.IsZero() && p.Status.Phase == corev1.PodRunning {
				bt.homeRunning = now
			}
		} else {
			if bt.remoteAdded.IsZero() {
				bt.remoteAdded = now
			}
			if bt.remoteRunning.IsZero() && p.Status.Phase == corev1.PodRunning {
				bt.remoteRunning = now
			}
		}
	}
	timeout := int64(3600)
	opts := metav1.ListOptions{LabelSelector: "bench=1", TimeoutSeconds: &timeout}
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, opts)
	if err != nil {
		t.Errorf("watch %s/%s: %v", c.Name, ns, err)
		return
	}
	go func() {
		rv := ""
		for {
			for ev := range w.ResultChan() {
				now := time.Now()
				if ev.Type == watch.Error {
					rv = "" // too old: list again
					break
				}
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				if ev.Type != watch.Deleted {
					note(p, now)
				}
			}
			w.Stop()
			if ctx.Err() != nil {
				return
			}
			for ctx.Err() == nil {
				o := opts
				if rv == "" {
					l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "bench=1"})
					if err != nil {
						time.Sleep(200 * time.Millisecond)
						continue
					}
					now := time.Now()
					for i := range l.Items {
						note(&l.Items[i], now)
					}
					rv = l.ResourceVersion
				}
				o.ResourceVersion = rv
				if w, err = cs.CoreV1().Pods(ns).Watch(ctx, o); err == nil {
					break
				}
				rv = ""
			}
			if ctx.Err() != nil {
				return
			}
			t.Logf("bench watch %s/%s ended early: resumed", c.Name, ns)
		}
	}()
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(p*float64(len(d))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(d) {
		i = len(d) - 1
	}
	return d[i]
}

// benchProc reads utime+stime (ms), VmHWM and VmStk (KiB) of pid. VmStk is the main
// thread's stack mapping, which only grows: the stack high-water at page granularity.
func benchProc(pid int) (cpuMs int64, hwmKiB int64, stkKiB int64) {
	if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		cpuMs = (u + st) * 10 // USER_HZ = 100
	}
	if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				hwmKiB, _ = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			}
			if strings.HasPrefix(l, "VmStk:") {
				stkKiB, _ = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			}
		}
	}
	return
}

// benchNodes adds n kwok nodes to the foreign cluster (removed at the end).
func benchNodes(t *testing.T, n int) {
	ctx := ctxFor(t, time.Minute)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("foreign-bench-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": name}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"),
				corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("250")},
				Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"),
					corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("250")}}}
		if _, err := tb.Foreign.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatalf("bench node %s: %v", name, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = tb.Foreign.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		})
	}
}

// benchProcs sums benchProc over pids: CPU time (ms) and VmHWM (KiB); stkKiB is the
// largest VmStk.
func benchProcs(pids []int) (cpuMs, hwmKiB, stkKiB int64) {
	for _, pid := range pids {
		c, h, s := benchProc(pid)
		cpuMs += c
		hwmKiB += h
		stkKiB = max(stkKiB, s)
	}
	return
}

// benchResult is one workload's measurements.
type benchResult struct {
	n, perSecond int
	start        time.Time       // the first create
	total        time.Duration   // until all pods ran at home (or the 5 min deadline)
	running      int             // pods Running at home by then
	h1, h2       []time.Duration // per pod: hop 1, hop 2
	cpuMs        int64           // the agent's CPU from the first create until all ran
	hwmKiB       int64           // VmHWM when all ran (sum over the agent's processes)
	stkKiB       int64
	deleted      time.Duration // from the delete until no pod was left on either side
	cpuAllMs     int64         // CPU until the pods were deleted on both sides again
	hwmAllKiB    int64         // VmHWM then
}

func (r benchResult) mode() string {
	if r.perSecond > 0 {
		return fmt.Sprintf("%d/s", r.perSecond)
	}
	return "burst"
}

// benchWorkload creates n pods bound to node in home namespace ns (all at once by 16
// creators, or perSecond paced), times them until they all run at home, reads the CPU
// time and VmHWM of pids, then deletes the pods (the agent still running) and waits until
// both ns and the remote namespace are empty of them again.
func benchWorkload(t *testing.T, node, ns, remote string, pids []int, n, perSecond int) benchResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &benchRec{m: map[string]*benchTimes{}}
	benchWatch(ctx, t, tb.Home, ns, true, rec)
	benchWatch(ctx, t, tb.Foreign, remote, false, rec)
	cpu0, _, _ := benchProcs(pids)
	start := time.Now()
	mk := func(i int) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b-%04d", i), Labels: map[string]string{"bench": "1"}},
			Spec: corev1.PodSpec{NodeName: node,
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "c", Image: "registry.example/b:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")}}}}}}
		c, cc := context.WithTimeout(context.Background(), 30*time.Second)
		defer cc()
		if _, err := tb.Home.Client.CoreV1().Pods(ns).Create(c, pod, metav1.CreateOptions{}); err != nil {
			t.Errorf("create %s: %v", pod.Name, err)
		}
	}
	if perSecond > 0 {
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		for i := 0; i < n; i++ {
			<-tick.C
			mk(i)
		}
		tick.Stop()
	} else {
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					mk(i)
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	r := benchResult{n: n, perSecond: perSecond, start: start}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		done := 0
		for _, bt := range rec.m {
			if !bt.homeRunning.IsZero() {
				done++
			}
		}
		rec.mu.Unlock()
		r.running = done
		if done == n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.total = time.Since(start)
	cpu1, hwm, stk := benchProcs(pids)
	r.cpuMs, r.hwmKiB, r.stkKiB = cpu1-cpu0, hwm, stk
	rec.mu.Lock()
	for _, bt := range rec.m {
		if !bt.homeAdded.IsZero() && !bt.remoteAdded.IsZero() {
			r.h1 = append(r.h1, bt.remoteAdded.Sub(bt.homeAdded))
		}
		if !bt.remoteRunning.IsZero() && !bt.homeRunning.IsZero() {
			r.h2 = append(r.h2, bt.homeRunning.Sub(bt.remoteRunning))
		}
	}
	rec.mu.Unlock()
	// Clean up with the agent running: it removes the remote pods. A virtual kubelet may
	// wait out each pod's grace period (30 s) before it deletes it at home.
	del := time.Now()
	limit := max(3*time.Minute, time.Duration(n)*300*time.Millisecond)
	c, cc := context.WithTimeout(context.Background(), 30*time.Second)
	_ = tb.Home.Client.CoreV1().Pods(ns).DeleteCollection(c, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=1"})
	cc()
	for {
		c, cc := context.WithTimeout(context.Background(), 30*time.Second)
		rem, err := podsList(c, tb.Foreign, remote, "bench=1")
		h, err2 := podsList(c, tb.Home, ns, "bench=1")
		cc()
		if err == nil && err2 == nil && len(rem) == 0 && len(h) == 0 {
			break
		}
		if time.Since(del) > limit {
			t.Errorf("bench pods not gone within %v: %d home (%v), %d remote (%v)", limit, len(h), err2, len(rem), err)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.deleted = time.Since(del)
	cpu2, hwm2, _ := benchProcs(pids)
	r.cpuAllMs, r.hwmAllKiB = cpu2-cpu0, hwm2
	return r
}

func benchRun(t *testing.T, n int, perSecond int) string {
	l, ns, remote := podsStart(t)
	if n > 200 {
		benchNodes(t, (n-200)/240+1)
	}
	r := benchWorkload(t, vnodeName, ns, remote, []int{l.Cmd.Process.Pid}, n, perSecond)
	line := fmt.Sprintf("| %s | %d | %s | %d/%d | %.1f / %.1f ms | %.1f / %.1f ms | %.1f s | %d ms | %d KiB | %d KiB |",
		benchLabel(),
		n, r.mode(), len(r.h1), len(r.h2),
		float64(pct(r.h1, 0.5).Microseconds())/1000, float64(pct(r.h1, 0.99).Microseconds())/1000,
		float64(pct(r.h2, 0.5).Microseconds())/1000, float64(pct(r.h2, 0.99).Microseconds())/1000,
		r.total.Seconds(), r.cpuMs, r.hwmKiB, r.stkKiB)
	t.Log(line)
	return line
}

// benchLabel names the agent measured: LIQOLET_BENCH_LABEL, else "this tree".
func benchLabel() string {
	if l := os.Getenv("LIQOLET_BENCH_LABEL"); l != "" {
		return l
	}
	return "this tree"
}

func TestBenchPods(t *testing.T) {
	if os.Getenv("LIQOLET_BENCH") == "" {
		t.Skip("benchmark: run with LIQOLET_BENCH=1 (make bench-pods)")
	}
	sizes := []int{110}
	if s := os.Getenv("LIQOLET_BENCH_LARGE"); s != "" {
		sizes = append(sizes, 1000)
	}
	var lines []string
	for _, n := range sizes {
		for _, rate := range []int{0, 20} {
			n, rate := n, rate
			t.Run(fmt.Sprintf("%d-%d", n, rate), func(t *testing.T) { lines = append(lines, benchRun(t, n, rate)) })
		}
	}
	fmt.Println("| agent | pods | mode | timed (hop1/hop2) | hop 1 p50 / p99 | hop 2 p50 / p99 | all Running after | agent CPU | agent VmHWM | agent VmStk |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, l := range lines {
		fmt.Println(l)
	}
}
