package e2e

// ConfigMap reflection benchmark (issue 12; `make bench-config`, numbers in
// docs/benchmarks.md). It runs only with LIQOLET_BENCH=1: it measures, it asserts nothing
// about speed.
//
// A fresh agent offloads a fresh namespace; then 500 ConfigMaps of 1 KiB and 50 of
// 500 KiB are created at home at once (16 creators each, both sets together). It reports
// the time from the first create until every one exists in the foreign cluster with data
// identical to the home object's (a watch on the remote namespace time-stamps each; a paged
// LIST checks them all once at the end), the agent's CPU time (utime+stime) over that span,
// and its VmHWM before and after (issue 12: "it should barely move").

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

type benchConfigSet struct {
	tag  string
	n    int
	size int
}

func benchConfigRun(t *testing.T) string {
	e := cfgStart(t)
	pid := e.l.Cmd.Process.Pid
	sets := []benchConfigSet{{"small", 500, 1024}, {"large", 50, 500 * 1024}}
	size := map[string]int{}
	for _, s := range sets {
		size[s.tag] = s.size
	}
	// A watch on the remote namespace time-stamps the first event at which each ConfigMap
	// holds exactly the data it was created with (no polling LISTs of 25 MB).
	cfg := rest.CopyConfig(tb.Foreign.Config)
	cfg.Timeout = 0
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timeout := int64(3600)
	w, err := cs.CoreV1().ConfigMaps(e.remote).Watch(ctx, metav1.ListOptions{LabelSelector: "bench in (small,large)", TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]time.Time{} // tag/name -> first time the remote data was right
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			now := time.Now()
			c, ok := ev.Object.(*corev1.ConfigMap)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			tag := c.Labels["bench"]
			if c.Data["v"] != cfgBurstValue(c.Name, size[tag]) {
				continue
			}
			mu.Lock()
			if _, ok := seen[tag+"/"+c.Name]; !ok {
				seen[tag+"/"+c.Name] = now
			}
			mu.Unlock()
		}
	}()
	// The creators' client is not rate-limited by client-go (the suite's is 50 QPS), so
	// the creates go as fast as the home API server takes them.
	hcfg := rest.CopyConfig(tb.Home.Config)
	hcfg.QPS, hcfg.Burst = 1000, 2000
	home, err := kubernetes.NewForConfig(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	// Let the start-up settle (first LISTs, node status) before the "before" figures.
	time.Sleep(5 * time.Second)
	cpu0, hwm0, _ := benchProc(pid)
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range sets {
		s := s
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cfgCreateBurst(home, e.ns, s.n, s.size, s.tag); err != nil {
				t.Errorf("%s set: %v", s.tag, err)
			}
		}()
	}
	wg.Wait()
	created := time.Since(start)
	count := func() (map[string]int, map[string]time.Time) {
		mu.Lock()
		defer mu.Unlock()
		n, last := map[string]int{}, map[string]time.Time{}
		for k, at := range seen {
			tag := strings.SplitN(k, "/", 2)[0]
			n[tag]++
			if at.After(last[tag]) {
				last[tag] = at
			}
		}
		return n, last
	}
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		e.alive(t)
		if n, _ := count(); n["small"] == 500 && n["large"] == 50 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	cpu1, hwm1, stk := benchProc(pid)
	n, last := count()
	// Check once, by paged LISTs, that everything is there with identical data.
	for _, s := range sets {
		page := int64(100)
		if s.size > 64*1024 {
			page = 5
		}
		c, cc := context.WithTimeout(context.Background(), 5*time.Minute)
		why, err := cfgBurstMissing(c, e.remote, s.n, s.size, s.tag, page)
		cc()
		if err != nil || why != "" {
			t.Errorf("%s set: %v %s", s.tag, err, why)
		}
	}
	done := func(s benchConfigSet) string {
		if n[s.tag] < s.n {
			return fmt.Sprintf("%d of %d", n[s.tag], s.n)
		}
		return fmt.Sprintf("%.1f s", last[s.tag].Sub(start).Seconds())
	}
	all := "not all"
	if n["small"] == 500 && n["large"] == 50 {
		end := last["small"]
		if last["large"].After(end) {
			end = last["large"]
		}
		all = fmt.Sprintf("%.1f s", end.Sub(start).Seconds())
	}
	line := fmt.Sprintf("| %s | 500 × 1 KiB + 50 × 500 KiB | %.1f s | %s | %s | %s | %d ms | %d KiB | %d KiB | %d KiB |",
		benchLabel(), created.Seconds(), done(sets[0]), done(sets[1]), all, cpu1-cpu0, hwm0, hwm1, stk)
	t.Log(line)
	return line
}

func TestBenchConfig(t *testing.T) {
	if os.Getenv("LIQOLET_BENCH") == "" {
		t.Skip("benchmark: run with LIQOLET_BENCH=1 (make bench-config)")
	}
	line := benchConfigRun(t)
	fmt.Println("| agent | objects | all created after | 1 KiB ones remote after | 500 KiB ones remote after | all remote after | agent CPU | VmHWM before | VmHWM after | VmStk |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	fmt.Println(line)
}
