package e2e

// Services/EndpointSlices reflection benchmark (issue 13; `make bench-exposition`, numbers
// in docs/benchmarks.md). It runs only with LIQOLET_BENCH=1: it measures, it asserts
// nothing about speed.
//
// A fresh agent offloads a fresh namespace; N Services (LIQOLET_BENCH_N, default 200)
// without selectors are created at home, each with one hand-written EndpointSlice of 5
// endpoints on a home node (managed-by bench.liqolet.io, so the home EndpointSlice
// controller leaves them alone and the test controls the timing). Once every remote copy
// exists, every slice gets a "rolling update" (the first endpoint's address changes): first
// paced (LIQOLET_BENCH_RATE per second, default 20), then all at once (16 writers). A watch
// on the remote namespace time-stamps the first event at which each copy shows each
// version; the latency of a slice is that time minus the time just before its home write
// was sent (so it includes the home API server's write). Reported per phase: p50/p99, the
// time until all are remote, the agent's CPU time (utime+stime) and its VmHWM.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const benchExpManager = "bench.liqolet.io"

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchExpAddr is the first endpoint's address of slice i in version v (1 = created,
// 2 = paced update, 3 = burst update); unique per slice and version.
func benchExpAddr(v, i int) string {
	return fmt.Sprintf("10.%d.%d.%d", 100+v, i/250, i%250+1)
}

func benchExpName(i int) string { return fmt.Sprintf("bsvc-%04d", i) }

func benchExpObjects(ns string, i int) (*corev1.Service, *discoveryv1.EndpointSlice) {
	name := benchExpName(i)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "exposition"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	yes := true
	node := "home-node-1"
	port, proto, pname := int32(8080), corev1.ProtocolTCP, "http"
	eps := make([]discoveryv1.Endpoint, 5)
	for k := range eps {
		addr := fmt.Sprintf("172.16.%d.%d", i/50, (i%50)*5+k+1)
		if k == 0 {
			addr = benchExpAddr(1, i)
		}
		eps[k] = discoveryv1.Endpoint{Addresses: []string{addr}, NodeName: &node,
			Conditions: discoveryv1.EndpointConditions{Ready: &yes},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: fmt.Sprintf("%s-%d", name, k), Namespace: ns}}
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{
			expServiceName: name, expManagedBy: benchExpManager, "bench": "exposition"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}},
	}
	return svc, slice
}

func benchPct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(p*float64(len(s))+0.999999) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(s) {
		k = len(s) - 1
	}
	return s[k]
}

func benchMs(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func benchExpositionRun(t *testing.T, n, rate int) []string {
	e := expStart(t)
	pid := e.l.Cmd.Process.Pid

	// seen[v][i]: first time the remote copy of slice i showed version v.
	var mu sync.Mutex
	seen := [4]map[int]time.Time{{}, {}, {}, {}}
	addrs := map[string][2]int{}
	for i := 0; i < n; i++ {
		for v := 1; v <= 3; v++ {
			addrs[benchExpAddr(v, i)] = [2]int{v, i}
		}
	}
	cfg := rest.CopyConfig(tb.Foreign.Config)
	cfg.Timeout = 0
	fcs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timeout := int64(3600)
	w, err := fcs.DiscoveryV1().EndpointSlices(e.remote).Watch(ctx, metav1.ListOptions{
		LabelSelector: "bench=exposition," + expManagedBy + "=" + expOurManager, TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			now := time.Now()
			s, ok := ev.Object.(*discoveryv1.EndpointSlice)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			for _, ep := range s.Endpoints {
				for _, a := range ep.Addresses {
					if vi, ok := addrs[a]; ok && strings.HasPrefix(s.Name, benchExpName(vi[1])) {
						mu.Lock()
						if _, ok := seen[vi[0]][vi[1]]; !ok {
							seen[vi[0]][vi[1]] = now
						}
						mu.Unlock()
					}
				}
			}
		}
	}()
	hcfg := rest.CopyConfig(tb.Home.Config)
	hcfg.QPS, hcfg.Burst = 1000, 2000
	home, err := kubernetes.NewForConfig(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	sent := [4][]time.Time{nil, make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)}
	count := func(v int) int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen[v])
	}
	wait := func(v int, what string) time.Time {
		deadline := time.Now().Add(10 * time.Minute)
		for count(v) < n {
			e.alive(t)
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d slices remote after 10 min", what, count(v), n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		var last time.Time
		for _, at := range seen[v] {
			if at.After(last) {
				last = at
			}
		}
		return last
	}
	lat := func(v int) []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		d := make([]time.Duration, 0, n)
		for i := 0; i < n; i++ {
			d = append(d, seen[v][i].Sub(sent[v][i]))
		}
		return d
	}
	patch := func(c context.Context, v, i int) error {
		p := fmt.Sprintf(`[{"op":"replace","path":"/endpoints/0/addresses/0","value":"%s"}]`, benchExpAddr(v, i))
		sent[v][i] = time.Now()
		_, err := home.DiscoveryV1().EndpointSlices(e.ns).Patch(c, benchExpName(i)+"-1", types.JSONPatchType, []byte(p), metav1.PatchOptions{})
		return err
	}
	burst := func(f func(i int) error) {
		var wg sync.WaitGroup
		next := make(chan int)
		for k := 0; k < 16; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if err := f(i); err != nil {
						t.Errorf("slice %d: %v", i, err)
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	var lines []string
	row := func(mode string, v int, start, last time.Time, cpu int64, hwm0, hwm1 int64) {
		d := lat(v)
		l := fmt.Sprintf("| %s | %d | %s | %s | %s | %.1f s | %d ms | %d KiB | %d KiB |",
			benchLabel(), n, mode, benchMs(benchPct(d, 0.5)), benchMs(benchPct(d, 0.99)),
			last.Sub(start).Seconds(), cpu, hwm0, hwm1)
		t.Log(l)
		lines = append(lines, l)
	}

	// Let the start-up settle (first LISTs, node status) before the "before" figures.
	time.Sleep(5 * time.Second)
	c := ctxFor(t, 30*time.Minute)
	cpu0, hwm0, _ := benchProc(pid)

	// Version 1: Services and slices created at once (16 creators).
	start := time.Now()
	burst(func(i int) error {
		svc, slice := benchExpObjects(e.ns, i)
		if _, err := home.CoreV1().Services(e.ns).Create(c, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
		sent[1][i] = time.Now()
		_, err := home.DiscoveryV1().EndpointSlices(e.ns).Create(c, slice, metav1.CreateOptions{})
		return err
	})
	last := wait(1, "create")
	cpu1, hwm1, _ := benchProc(pid)
	row("create (Service + slice, 16 writers)", 1, start, last, cpu1-cpu0, hwm0, hwm1)
	time.Sleep(3 * time.Second)

	// Version 2: paced rolling update, each write in its own goroutine so a slow write
	// does not delay the next one.
	cpu1, hwm1, _ = benchProc(pid)
	start = time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := patch(c, 2, i); err != nil {
				t.Errorf("slice %d: %v", i, err)
			}
		}(i)
	}
	tick.Stop()
	wg.Wait()
	last = wait(2, "paced update")
	cpu2, hwm2, _ := benchProc(pid)
	row(fmt.Sprintf("update paced %d/s", rate), 2, start, last, cpu2-cpu1, hwm1, hwm2)
	time.Sleep(3 * time.Second)

	// Version 3: burst rolling update (16 writers).
	cpu2, hwm2, _ = benchProc(pid)
	start = time.Now()
	burst(func(i int) error { return patch(c, 3, i) })
	last = wait(3, "burst update")
	cpu3, hwm3, _ := benchProc(pid)
	row("update burst (16 writers)", 3, start, last, cpu3-cpu2, hwm2, hwm3)

	// Check once, by a LIST, that every copy holds the 5 endpoints of the last version.
	l, err := fcs.DiscoveryV1().EndpointSlices(e.remote).List(c, metav1.ListOptions{
		LabelSelector: "bench=exposition," + expManagedBy + "=" + expOurManager})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, s := range l.Items {
		var i int
		if _, err := fmt.Sscanf(s.Name, "bsvc-%04d-1", &i); err != nil || len(s.Endpoints) != 5 {
			t.Errorf("remote slice %s: %d endpoints", s.Name, len(s.Endpoints))
			continue
		}
		if a := s.Endpoints[0].Addresses; len(a) != 1 || a[0] != benchExpAddr(3, i) {
			t.Errorf("remote slice %s: first endpoint %v, want %s", s.Name, a, benchExpAddr(3, i))
			continue
		}
		ok++
	}
	if ok != n {
		t.Errorf("%d of %d remote slices complete and current", ok, n)
	}
	return lines
}

func TestBenchExposition(t *testing.T) {
	if os.Getenv("LIQOLET_BENCH") == "" {
		t.Skip("benchmark: run with LIQOLET_BENCH=1 (make bench-exposition)")
	}
	n := benchEnvInt("LIQOLET_BENCH_N", 200)
	rate := benchEnvInt("LIQOLET_BENCH_RATE", 20)
	lines := benchExpositionRun(t, n, rate)
	fmt.Println("| agent | Services (1 slice × 5 endpoints each) | phase | home write → remote copy p50 | p99 | all remote after | agent CPU | VmHWM before | VmHWM after |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, l := range lines {
		fmt.Println(l)
	}
}
