package e2e

// End-to-end tests of the virtual node that `liqolet run` keeps in the home
// cluster (issue 5, item 5; Liqo v0.8 behaviour §4).  Each test starts its own
// agent (only one may run against the pair), and removes the Node and its Lease
// when it ends: the agent leaves both in place on SIGTERM by design.  Run them
// alone with `make e2e E2E_RUN=TestVirtualNode`.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	vnodeName      = "liqo-foreign" // the only node name the test RBAC allows
	vnodeLeaseNS   = "kube-node-lease"
	vnodeSharePct  = 90
	vnodeTaintKey  = "virtual-node.liqo.io/not-allowed"
	vnodeAppear    = 30 * time.Second
	vnodeFollowCap = 90 * time.Second // status every 60 s and on foreign node changes
)

// startVirtualNodeAgent removes any leftover virtual node, arranges for the Node
// and Lease to be deleted when the test ends (after the agent is stopped: cleanups
// run last-registered first), and starts `liqolet run`.
func startVirtualNodeAgent(t *testing.T) *Liqolet {
	t.Helper()
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	return StartLiqolet(t, "run",
		"--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig,
		"--node-name", vnodeName)
}

// deleteVirtualNode deletes Node liqo-foreign and Lease kube-node-lease/liqo-foreign
// with the admin client; with wait, it also waits until both are gone.
func deleteVirtualNode(t *testing.T, wait bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	h := tb.Home.Client
	if err := h.CoreV1().Nodes().Delete(ctx, vnodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete node %s: %v", vnodeName, err)
	}
	if err := h.CoordinationV1().Leases(vnodeLeaseNS).Delete(ctx, vnodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete lease %s/%s: %v", vnodeLeaseNS, vnodeName, err)
	}
	if !wait {
		return
	}
	for {
		_, errN := h.CoreV1().Nodes().Get(ctx, vnodeName, metav1.GetOptions{})
		_, errL := h.CoordinationV1().Leases(vnodeLeaseNS).Get(ctx, vnodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(errN) && apierrors.IsNotFound(errL) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("leftover node/lease %s not gone before the test (node: %v, lease: %v)", vnodeName, errN, errL)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// vnDescribeNode renders what a failure message needs to show about the node.
func vnDescribeNode(n *corev1.Node) string {
	if n == nil {
		return "  (node not found)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  uid %s, created %s\n", n.UID, n.CreationTimestamp.UTC().Format(time.RFC3339))
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("  labels:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "    %s=%s\n", k, n.Labels[k])
	}
	b.WriteString("  taints:\n")
	for _, tn := range n.Spec.Taints {
		fmt.Fprintf(&b, "    %s=%s:%s\n", tn.Key, tn.Value, tn.Effect)
	}
	b.WriteString("  conditions:\n")
	for _, c := range n.Status.Conditions {
		fmt.Fprintf(&b, "    %s=%s reason=%q message=%q heartbeat=%s transition=%s\n", c.Type, c.Status, c.Reason, c.Message,
			c.LastHeartbeatTime.UTC().Format(time.RFC3339), c.LastTransitionTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "  capacity:    %s\n", vnFmtResources(n.Status.Capacity))
	fmt.Fprintf(&b, "  allocatable: %s\n", vnFmtResources(n.Status.Allocatable))
	fmt.Fprintf(&b, "  addresses:   %v\n", n.Status.Addresses)
	ni := n.Status.NodeInfo
	fmt.Fprintf(&b, "  nodeInfo:    architecture=%q operatingSystem=%q kubeletVersion=%q\n", ni.Architecture, ni.OperatingSystem, ni.KubeletVersion)
	return b.String()
}

func vnFmtResources(l corev1.ResourceList) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		q := l[corev1.ResourceName(k)]
		parts = append(parts, k+"="+q.String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func vnNodeCondition(n *corev1.Node, typ corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == typ {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func vnNodeReady(n *corev1.Node) bool {
	c := vnNodeCondition(n, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// waitVirtualNode polls the home cluster's Node liqo-foreign until cond accepts it
// (cond returns "" when satisfied, otherwise why not).  It fails the test at once if
// the agent exits, and on timeout with the last reason and the node's state.
func waitVirtualNode(t *testing.T, l *Liqolet, timeout time.Duration, what string, cond func(n *corev1.Node) string) *corev1.Node {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *corev1.Node
	why := "not checked yet"
	for {
		if l != nil {
			if done, err := l.Exited(); done {
				t.Fatalf("%s: liqolet exited (%v) while waiting; last node state:\n%s", what, err, vnDescribeNode(last))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := tb.Home.Client.CoreV1().Nodes().Get(ctx, vnodeName, metav1.GetOptions{})
		cancel()
		switch {
		case apierrors.IsNotFound(err):
			last, why = nil, "node "+vnodeName+" does not exist"
		case err != nil:
			why = "get node: " + err.Error()
		default:
			last = n
			if why = cond(n); why == "" {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %s\nnode %s:\n%s", what, timeout, why, vnodeName, vnDescribeNode(last))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func vnExistsAndReady(n *corev1.Node) string {
	if !vnNodeReady(n) {
		return "Ready is not True"
	}
	return ""
}

// ---------------------------------------------------------------- expected offer

// vnExpectedOffer computes what the virtual node should offer, from the foreign
// cluster's nodes and pods as Liqo §4 does: the allocatable of Ready nodes that are
// not virtual nodes, minus the requests of Running pods that are not shadow pods,
// times 90 %; cpu in millicores, memory rounded up to whole M (10^6 bytes) then
// scaled, anything else an integer.  Alternatives holds Liqo's own float32
// arithmetic, int64(float32(v) * float32(0.9)), which can differ by one unit; both
// are accepted.  Detail explains the computation for failure messages.
type vnOffer struct {
	want, alt corev1.ResourceList
	detail    string
}

func vnExpectedOffer(ctx context.Context) (*vnOffer, error) {
	f := tb.Foreign.Client
	nodes, err := f.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list foreign nodes: %w", err)
	}
	pods, err := f.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list foreign pods: %w", err)
	}
	ks, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("home kube-system: %w", err)
	}
	homeID := string(ks.UID)
	var detail strings.Builder
	total := corev1.ResourceList{}
	for _, n := range nodes.Items {
		if n.Labels["liqo.io/type"] == "virtual-node" {
			fmt.Fprintf(&detail, "  node %s: virtual node, skipped\n", n.Name)
			continue
		}
		if !vnNodeReady(&n) {
			fmt.Fprintf(&detail, "  node %s: not Ready, skipped\n", n.Name)
			continue
		}
		fmt.Fprintf(&detail, "  node %s: allocatable %s\n", n.Name, vnFmtResources(n.Status.Allocatable))
		for r, q := range n.Status.Allocatable {
			sum := total[r]
			sum.Add(q)
			total[r] = sum
		}
	}
	used := corev1.ResourceList{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase != corev1.PodRunning || p.Labels["liqo.io/shadowPod"] == "true" {
			continue
		}
		// Liqo §4 adds back what the home cluster itself runs there (its offloaded pods):
		// subtracting and adding back cancel out.
		if p.Labels["virtualkubelet.liqo.io/origin"] == homeID {
			fmt.Fprintf(&detail, "  pod %s/%s Running: offloaded from home, not counted\n", p.Namespace, p.Name)
			continue
		}
		req := vnPodRequests(p)
		fmt.Fprintf(&detail, "  pod %s/%s Running: requests %s\n", p.Namespace, p.Name, vnFmtResources(req))
		for r, q := range req {
			if _, onNode := total[r]; !onNode {
				continue
			}
			sum := used[r]
			sum.Add(q)
			used[r] = sum
		}
	}
	free := corev1.ResourceList{}
	negative := false
	for r, q := range total {
		v := q.DeepCopy()
		if u, ok := used[r]; ok {
			v.Sub(u)
		}
		if v.Sign() < 0 {
			negative = true
		}
		free[r] = v
	}
	o := &vnOffer{want: corev1.ResourceList{}, alt: corev1.ResourceList{}}
	factor := float32(vnodeSharePct) / 100
	f32 := func(v int64) int64 { return int64(float32(float32(v) * factor)) }
	for r, q := range free {
		if negative { // Liqo: any negative resource zeroes them all
			q = resource.Quantity{}
		}
		switch r {
		case corev1.ResourceCPU:
			m := q.MilliValue()
			o.want[r] = *resource.NewMilliQuantity(m*vnodeSharePct/100, resource.DecimalSI)
			o.alt[r] = *resource.NewMilliQuantity(f32(m), resource.DecimalSI)
		case corev1.ResourceMemory:
			mega := q.ScaledValue(resource.Mega) // rounds up
			o.want[r] = *resource.NewScaledQuantity(mega*vnodeSharePct/100, resource.Mega)
			o.alt[r] = *resource.NewScaledQuantity(f32(mega), resource.Mega)
		default:
			v := q.Value()
			o.want[r] = *resource.NewQuantity(v*vnodeSharePct/100, resource.DecimalSI)
			o.alt[r] = *resource.NewQuantity(f32(v), resource.DecimalSI)
		}
	}
	fmt.Fprintf(&detail, "  sum of allocatable %s, minus requests %s, negative=%v, times %d %% = %s",
		vnFmtResources(total), vnFmtResources(used), negative, vnodeSharePct, vnFmtResources(o.want))
	o.detail = detail.String()
	return o, nil
}

// vnPodRequests is the effective request of a pod: max(sum of containers, each init
// container) plus the overhead.
func vnPodRequests(p *corev1.Pod) corev1.ResourceList {
	req := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		for r, q := range c.Resources.Requests {
			sum := req[r]
			sum.Add(q)
			req[r] = sum
		}
	}
	for _, c := range p.Spec.InitContainers {
		for r, q := range c.Resources.Requests {
			if cur, ok := req[r]; !ok || q.Cmp(cur) > 0 {
				req[r] = q.DeepCopy()
			}
		}
	}
	for r, q := range p.Spec.Overhead {
		sum := req[r]
		sum.Add(q)
		req[r] = sum
	}
	return req
}

// vnOfferMismatch returns "" if the node's capacity and allocatable both match the
// offer on cpu, memory and pods, otherwise what differs.
func vnOfferMismatch(n *corev1.Node, o *vnOffer) string {
	var bad []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
		want, ok := o.want[r]
		if !ok {
			bad = append(bad, fmt.Sprintf("the foreign nodes report no %s", r))
			continue
		}
		alt := o.alt[r]
		for _, side := range []struct {
			name string
			l    corev1.ResourceList
		}{{"capacity", n.Status.Capacity}, {"allocatable", n.Status.Allocatable}} {
			got, ok := side.l[r]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s %s missing, want %s", side.name, r, want.String()))
			case got.Cmp(want) != 0 && got.Cmp(alt) != 0:
				bad = append(bad, fmt.Sprintf("%s %s = %s, want %s", side.name, r, got.String(), want.String()))
			}
		}
	}
	// capacity == allocatable for every resource the node lists.
	for r, c := range n.Status.Capacity {
		if a, ok := n.Status.Allocatable[r]; !ok || a.Cmp(c) != 0 {
			bad = append(bad, fmt.Sprintf("capacity %s = %s but allocatable = %s", r, c.String(), a.String()))
		}
	}
	for r := range n.Status.Allocatable {
		if _, ok := n.Status.Capacity[r]; !ok {
			bad = append(bad, fmt.Sprintf("allocatable lists %s, capacity does not", r))
		}
	}
	sort.Strings(bad)
	return strings.Join(bad, "; ")
}

// vnWaitOffer waits until the node's capacity matches the offer computed from the
// foreign cluster at that moment (recomputed on every poll: pods may come and go).
func vnWaitOffer(t *testing.T, l *Liqolet, timeout time.Duration, what string, extra func(n *corev1.Node) string) *corev1.Node {
	t.Helper()
	var lastDetail string
	return waitVirtualNode(t, l, timeout, what, func(n *corev1.Node) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		o, err := vnExpectedOffer(ctx)
		if err != nil {
			return "computing the expected offer: " + err.Error() + "\n" + lastDetail
		}
		lastDetail = "expected offer, from the foreign cluster:\n" + o.detail
		if extra != nil {
			if why := extra(n); why != "" {
				return why + "\n" + lastDetail
			}
		}
		if why := vnOfferMismatch(n, o); why != "" {
			return why + "\n" + lastDetail
		}
		return ""
	})
}

// ---------------------------------------------------------------- tests

// TestVirtualNodeReady: the node appears within 30 s with Liqo's labels, taint,
// conditions, node info, address, and the capacity computed from the foreign cluster.
func TestVirtualNodeReady(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ks, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("foreign kube-system: %v", err)
	}
	foreignID := string(ks.UID)
	hv, err := tb.Home.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("home /version: %v", err)
	}

	l := startVirtualNodeAgent(t)
	start := time.Now()
	n := waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready in home", vnExistsAndReady)
	t.Logf("node %s Ready after %v", vnodeName, time.Since(start).Round(100*time.Millisecond))

	var bad []string
	wantLabels := map[string]string{
		"kubernetes.io/hostname":    vnodeName,
		"kubernetes.io/role":        "agent",
		"kubernetes.io/os":          "linux",
		"kubernetes.io/arch":        "amd64", // the foreign kwok nodes are amd64
		"liqo.io/type":              "virtual-node",
		"liqo.io/remote-cluster-id": foreignID,
		"node.kubernetes.io/exclude-from-external-load-balancers": "true",
	}
	for k, v := range wantLabels {
		if got, ok := n.Labels[k]; !ok || got != v {
			bad = append(bad, fmt.Sprintf("label %s = %q (present %v), want %q", k, got, ok, v))
		}
	}
	taint := false
	for _, tn := range n.Spec.Taints {
		if tn.Key == vnodeTaintKey {
			if tn.Value != "true" || tn.Effect != corev1.TaintEffectNoExecute {
				bad = append(bad, fmt.Sprintf("taint %s=%s:%s, want %s=true:NoExecute", tn.Key, tn.Value, tn.Effect, vnodeTaintKey))
			}
			taint = true
		}
	}
	if !taint {
		bad = append(bad, "taint "+vnodeTaintKey+"=true:NoExecute missing")
	}
	if c := vnNodeCondition(n, corev1.NodeReady); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "KubeletReady" {
		bad = append(bad, fmt.Sprintf("condition Ready = %+v, want True with reason KubeletReady", c))
	}
	for _, typ := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		if c := vnNodeCondition(n, typ); c == nil || c.Status != corev1.ConditionFalse {
			bad = append(bad, fmt.Sprintf("condition %s = %+v, want False", typ, c))
		}
	}
	if c := vnNodeCondition(n, corev1.NodeNetworkUnavailable); c != nil {
		bad = append(bad, fmt.Sprintf("condition NetworkUnavailable present (%s, %s), want none in External Network mode", c.Status, c.Reason))
	}
	ni := n.Status.NodeInfo
	if ni.Architecture != "amd64" {
		bad = append(bad, fmt.Sprintf("nodeInfo.architecture %q, want amd64", ni.Architecture))
	}
	if ni.OperatingSystem != "Linux" {
		bad = append(bad, fmt.Sprintf("nodeInfo.operatingSystem %q, want Linux", ni.OperatingSystem))
	}
	if ni.KubeletVersion != hv.GitVersion {
		bad = append(bad, fmt.Sprintf("nodeInfo.kubeletVersion %q, want the home server's %q", ni.KubeletVersion, hv.GitVersion))
	}
	internal := false
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address == "127.0.0.1" {
			internal = true
		}
	}
	if !internal {
		bad = append(bad, fmt.Sprintf("addresses %v lack InternalIP 127.0.0.1 (the local address of the home API connection)", n.Status.Addresses))
	}
	if len(bad) > 0 {
		t.Errorf("node %s:\n  - %s\nnode state:\n%s", vnodeName, strings.Join(bad, "\n  - "), vnDescribeNode(n))
	}

	// Capacity: a few seconds of slack in case foreign pods change meanwhile.
	n = vnWaitOffer(t, l, 20*time.Second, "capacity = allocatable = the offer computed from the foreign cluster", nil)
	t.Logf("capacity %s, allocatable %s", vnFmtResources(n.Status.Capacity), vnFmtResources(n.Status.Allocatable))
}

// TestVirtualNodeLease: Lease kube-node-lease/liqo-foreign, 40 s, held by the node, owned
// by the Node (one ownerReference: kind Node, its name and uid), renewed (renewTime
// increases between two readings more than 10 s apart).
func TestVirtualNodeLease(t *testing.T) {
	l := startVirtualNodeAgent(t)
	n := waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready in home", vnExistsAndReady)

	leases := tb.Home.Client.CoordinationV1().Leases(vnodeLeaseNS)
	var lease *coordinationv1.Lease
	Eventually(t, vnodeAppear, "lease "+vnodeLeaseNS+"/"+vnodeName+" with a renewTime", func(ctx context.Context) (bool, error) {
		var err error
		lease, err = leases.Get(ctx, vnodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && lease.Spec.RenewTime != nil, err
	})
	describe := func(ls *coordinationv1.Lease) string {
		s := ls.Spec
		str := func(p *string) string {
			if p == nil {
				return "<nil>"
			}
			return *p
		}
		i32 := func(p *int32) string {
			if p == nil {
				return "<nil>"
			}
			return fmt.Sprint(*p)
		}
		mt := func(p *metav1.MicroTime) string {
			if p == nil {
				return "<nil>"
			}
			return p.UTC().Format(time.RFC3339Nano)
		}
		return fmt.Sprintf("holderIdentity=%s leaseDurationSeconds=%s acquireTime=%s renewTime=%s ownerReferences=%v",
			str(s.HolderIdentity), i32(s.LeaseDurationSeconds), mt(s.AcquireTime), mt(s.RenewTime), ls.OwnerReferences)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != vnodeName {
		t.Errorf("lease holderIdentity wrong, want %q: %s", vnodeName, describe(lease))
	}
	if d := lease.Spec.LeaseDurationSeconds; d == nil || *d != 40 {
		t.Errorf("lease leaseDurationSeconds wrong, want 40: %s", describe(lease))
	}
	// As a kubelet's (and Liqo's virtual kubelet's) node Lease: owned by its Node, so the
	// garbage collector removes it with the node.
	owners := 0
	for _, o := range lease.OwnerReferences {
		if o.APIVersion == "v1" && o.Kind == "Node" && o.Name == vnodeName && o.UID == n.UID {
			owners++
		}
	}
	if owners != 1 || len(lease.OwnerReferences) != 1 {
		t.Errorf("lease owner references wrong, want exactly one to v1 Node %s uid %s: %s", vnodeName, n.UID, describe(lease))
	}

	first := lease.Spec.RenewTime.Time
	// Renewal every 10 s: two readings 15 s apart must see at least one renewal.
	time.Sleep(15 * time.Second)
	if done, err := l.Exited(); done {
		t.Fatalf("liqolet exited (%v)", err)
	}
	second, err := leases.Get(ctxFor(t, 10*time.Second), vnodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get lease again: %v", err)
	}
	if second.Spec.RenewTime == nil || !second.Spec.RenewTime.Time.After(first) {
		t.Fatalf("lease not renewed in 15 s: first renewTime %s, now %s", first.UTC().Format(time.RFC3339Nano), describe(second))
	}
	if age := time.Since(second.Spec.RenewTime.Time); age > 40*time.Second {
		t.Errorf("lease renewTime is %v old (longer than the lease duration): %s", age.Round(time.Second), describe(second))
	}
	t.Logf("lease renewed: %s -> %s", first.UTC().Format(time.RFC3339Nano), second.Spec.RenewTime.UTC().Format(time.RFC3339Nano))
}

// TestVirtualNodeCapacityFollowsForeign: lowering a foreign node's allocatable cpu
// lowers the virtual node's capacity within 90 s.
func TestVirtualNodeCapacityFollowsForeign(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	l := startVirtualNodeAgent(t)
	waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready in home", vnExistsAndReady)
	before := vnWaitOffer(t, l, 20*time.Second, "initial capacity", nil)
	cpuBefore := before.Status.Allocatable[corev1.ResourceCPU]

	nodes, err := tb.Foreign.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("list foreign kwok nodes: %v (%d nodes)", err, len(nodes.Items))
	}
	sort.Slice(nodes.Items, func(i, j int) bool { return nodes.Items[i].Name < nodes.Items[j].Name })
	target := nodes.Items[0].Name
	orig := nodes.Items[0].Status.Allocatable[corev1.ResourceCPU]
	lowered := orig.DeepCopy()
	lowered.Sub(resource.MustParse("2")) // 3900m -> 1900m on the test bed
	if lowered.Sign() <= 0 {
		t.Fatalf("foreign node %s has allocatable cpu %s; cannot lower it by 2", target, orig.String())
	}
	patchCPU := func(ctx context.Context, q resource.Quantity) error {
		body := fmt.Sprintf(`{"status":{"allocatable":{"cpu":%q}}}`, q.String())
		_, err := tb.Foreign.Client.CoreV1().Nodes().Patch(ctx, target, types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{}, "status")
		return err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		var err error
		for ctx.Err() == nil { // the foreign API server may be restarting after another failure
			if err = patchCPU(ctx, orig); err == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Errorf("restoring allocatable cpu %s of foreign node %s: %v", orig.String(), target, err)
	})
	if err := patchCPU(ctx, lowered); err != nil {
		t.Fatalf("patch foreign node %s status allocatable cpu to %s: %v", target, lowered.String(), err)
	}
	t.Logf("foreign node %s: allocatable cpu %s -> %s", target, orig.String(), lowered.String())

	start := time.Now()
	after := vnWaitOffer(t, l, vnodeFollowCap, "capacity after lowering foreign allocatable cpu", func(n *corev1.Node) string {
		got := n.Status.Allocatable[corev1.ResourceCPU]
		if got.Cmp(cpuBefore) == 0 {
			return fmt.Sprintf("allocatable cpu still %s", got.String())
		}
		return ""
	})
	cpuAfter := after.Status.Allocatable[corev1.ResourceCPU]
	t.Logf("virtual node allocatable cpu %s -> %s after %v", cpuBefore.String(), cpuAfter.String(), time.Since(start).Round(100*time.Millisecond))
}

// TestVirtualNodeForeignOutage: with the foreign API server stopped, the node goes
// NotReady (the agent stops renewing; the node lifecycle controller marks it
// Unknown after the 20 s grace period), and Ready again after the server returns.
func TestVirtualNodeForeignOutage(t *testing.T) {
	l := startVirtualNodeAgent(t)
	waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready in home", vnExistsAndReady)

	down := true
	if out, err := tb.Run("stop-apiserver", "foreign"); err != nil {
		// It may have stopped anyway: make sure cleanup restarts it.
		t.Cleanup(func() { vnRestartForeign(t) })
		t.Fatalf("stop-apiserver foreign: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if down {
			vnRestartForeign(t)
		}
	})
	stopped := time.Now()
	n := waitVirtualNode(t, l, 90*time.Second, "Ready not True while the foreign API server is down", func(n *corev1.Node) string {
		if c := vnNodeCondition(n, corev1.NodeReady); c == nil || c.Status != corev1.ConditionTrue {
			return ""
		}
		return "Ready is still True"
	})
	c := vnNodeCondition(n, corev1.NodeReady)
	t.Logf("Ready -> %+v after %v of foreign outage", c, time.Since(stopped).Round(100*time.Millisecond))

	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Fatalf("start-apiserver foreign: %v\n%s", err, out)
	}
	down = false
	back := time.Now()
	waitVirtualNode(t, l, 60*time.Second, "Ready True again after the foreign API server returned", vnExistsAndReady)
	t.Logf("Ready again %v after the foreign API server returned", time.Since(back).Round(100*time.Millisecond))
}

func vnRestartForeign(t *testing.T) {
	if out, err := tb.Run("start-apiserver", "foreign"); err != nil {
		t.Errorf("start-apiserver foreign (cleanup): %v\n%s", err, out)
	}
}

// TestVirtualNodeRecreated: deleting the Node makes the agent create it again, and its
// Lease then names the new Node as its owner.
func TestVirtualNodeRecreated(t *testing.T) {
	l := startVirtualNodeAgent(t)
	n := waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready in home", vnExistsAndReady)
	oldUID := n.UID
	if err := tb.Home.Client.CoreV1().Nodes().Delete(ctxFor(t, 10*time.Second), vnodeName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete node %s: %v", vnodeName, err)
	}
	deleted := time.Now()
	n = waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" re-created (new UID) and Ready", func(n *corev1.Node) string {
		if n.UID == oldUID {
			return "still the old node (uid " + string(oldUID) + ")"
		}
		if n.Labels["liqo.io/type"] != "virtual-node" {
			return "re-created node lacks label liqo.io/type=virtual-node"
		}
		return vnExistsAndReady(n)
	})
	t.Logf("re-created after %v: uid %s -> %s", time.Since(deleted).Round(100*time.Millisecond), oldUID, n.UID)
	// The node Lease follows the new Node: owned by its uid (an owner reference to the
	// deleted node would let the garbage collector remove the Lease for good). Within
	// two renewals (10 s each) plus the collector's reaction.
	var owners []metav1.OwnerReference
	Eventually(t, 45*time.Second, "lease "+vnodeLeaseNS+"/"+vnodeName+" owned by the new node (uid "+string(n.UID)+")", func(ctx context.Context) (bool, error) {
		ls, err := tb.Home.Client.CoordinationV1().Leases(vnodeLeaseNS).Get(ctx, vnodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			owners = nil
			return false, nil
		}
		if err != nil {
			return false, err
		}
		owners = ls.OwnerReferences
		return len(owners) == 1 && owners[0].Kind == "Node" && owners[0].Name == vnodeName && owners[0].UID == n.UID &&
			ls.Spec.RenewTime != nil && time.Since(ls.Spec.RenewTime.Time) < 40*time.Second, nil
	})
	t.Logf("lease owner references after the re-creation: %v", owners)
}

// TestVirtualNodeSIGTERM: SIGTERM ends the agent with status 0 and leaves the Node.
func TestVirtualNodeSIGTERM(t *testing.T) {
	l := startVirtualNodeAgent(t)
	n := waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready in home", vnExistsAndReady)
	if err := l.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		done, err := l.Exited()
		if done {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("liqolet exited with %v after SIGTERM, want status 0", ee.ProcessState)
			} else if err != nil {
				t.Fatalf("liqolet wait: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("liqolet still running 15 s after SIGTERM")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // nothing should remove it afterwards either
	after, err := tb.Home.Client.CoreV1().Nodes().Get(ctxFor(t, 10*time.Second), vnodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node %s after SIGTERM: %v (it must be left in place)", vnodeName, err)
	}
	if after.UID != n.UID {
		t.Errorf("node %s replaced during shutdown: uid %s -> %s", vnodeName, n.UID, after.UID)
	}
	if after.DeletionTimestamp != nil {
		t.Errorf("node %s is being deleted after SIGTERM (deletionTimestamp %s)", vnodeName, after.DeletionTimestamp)
	}
}

// TestVirtualNodeExtraLabels: `--node-label` and `--node-annotation` (repeated, an empty
// label value, an annotation value with spaces and '#') are on the Node with exactly the
// given values, next to Liqo's fixed labels; a NamespaceOffloading whose clusterSelector
// names only the extra label selects this cluster. Bad values are refused before
// anything starts: exit status 2 and a message naming the flag, the value and the rule,
// and no Node.
func TestVirtualNodeExtraLabels(t *testing.T) {
	id, d, r := offSetup(t)
	base := []string{"run",
		"--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig,
		"--node-name", vnodeName}

	t.Run("BadValues", func(t *testing.T) {
		bin := BuildLiqolet(t)
		for _, c := range []struct{ flag, value, want string }{
			{"--node-label", "novalue", "liqolet run: --node-label: 'novalue' is not KEY=VALUE"},
			{"--node-label", "site=bad value!", "liqolet run: --node-label: 'site=bad value!' has an invalid value (a label value: A-Z, a-z, 0-9, '-', '_', '.', alphanumeric at both ends, at most 63)"},
			{"--node-label", "-site=x", "liqolet run: --node-label: '-site=x' has an invalid key (a qualified name: [prefix/]name"},
			{"--node-label", "zone=" + strings.Repeat("z", 64), "has an invalid value (a label value"},
			{"--node-annotation", "/x=1", "liqolet run: --node-annotation: '/x=1' has an invalid key (a qualified name: [prefix/]name"},
			{"--node-annotation", "note", "liqolet run: --node-annotation: 'note' is not KEY=VALUE"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := exec.CommandContext(ctx, bin, append(append([]string{}, base...), c.flag, c.value)...)
			cmd.Env = os.Environ()
			for k, v := range tb.Env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			cancel()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("%s %q: exit %v, want status 2; output:\n%s", c.flag, c.value, err, out)
				continue
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("%s %q: output does not say %q:\n%s", c.flag, c.value, c.want, out)
			}
			if strings.Contains(string(out), "effective configuration") {
				t.Errorf("%s %q: the agent got as far as its effective configuration:\n%s", c.flag, c.value, out)
			}
		}
		_, err := tb.Home.Client.CoreV1().Nodes().Get(ctxFor(t, 10*time.Second), vnodeName, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("node %s after refused starts: %v, want NotFound", vnodeName, err)
		}
	})

	wantLabels := map[string]string{
		"topology.kubernetes.io/zone": "edge-1",
		"site":                        "warehouse",
		"example.com/empty":           "",
	}
	wantAnn := map[string]string{
		"note":              "kept as written, # included",
		"example.com/owner": "ops team <ops@example.com>",
	}
	args := append([]string{}, base...)
	for _, k := range []string{"topology.kubernetes.io/zone", "site", "example.com/empty"} {
		args = append(args, "--node-label", k+"="+wantLabels[k])
	}
	for _, k := range []string{"note", "example.com/owner"} {
		args = append(args, "--node-annotation", k+"="+wantAnn[k])
	}
	ns := "o-nl-" + r
	offNamespace(t, tb.Home, ns)
	offCreateNSOF(t, d, ns, map[string]interface{}{
		"clusterSelector": map[string]interface{}{"nodeSelectorTerms": []interface{}{
			map[string]interface{}{"matchExpressions": []interface{}{
				map[string]interface{}{"key": "site", "operator": "In", "values": []interface{}{"warehouse"}},
			}}}}})
	l := StartLiqolet(t, args...)
	n := waitVirtualNode(t, l, vnodeAppear, "node "+vnodeName+" Ready with the extra labels", vnExistsAndReady)
	var bad []string
	for k, v := range wantLabels {
		if got, ok := n.Labels[k]; !ok || got != v {
			bad = append(bad, fmt.Sprintf("label %s = %q (present %v), want %q", k, got, ok, v))
		}
	}
	for k, v := range wantAnn {
		if got, ok := n.Annotations[k]; !ok || got != v {
			bad = append(bad, fmt.Sprintf("annotation %s = %q (present %v), want %q", k, got, ok, v))
		}
	}
	for k, v := range map[string]string{"liqo.io/type": "virtual-node", "liqo.io/remote-cluster-id": id.foreignID,
		"kubernetes.io/hostname": vnodeName} {
		if n.Labels[k] != v {
			bad = append(bad, fmt.Sprintf("fixed label %s = %q, want %q", k, n.Labels[k], v))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("node %s:\n  - %s\nannotations %v\nnode state:\n%s", vnodeName, strings.Join(bad, "\n  - "), n.Annotations, vnDescribeNode(n))
	}
	// The extra label is what the clusterSelector matches.
	offWaitStatus(t, l, d, ns, id.foreignName, "Ready through the extra label", offReady(id, id.defaultName(ns)))
	offWaitRemote(t, l, id, id.defaultName(ns), ns)
}
