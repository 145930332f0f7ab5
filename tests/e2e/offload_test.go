package e2e

// End-to-end tests of namespace offloading by `liqolet run` (issue 5, items 3 and 5;
// Liqo v0.8 behaviour §3, DESIGN.md Decisions 1, 2 and 7): each mapping strategy
// through the NamespaceOffloading resource and through --offload, the clusterSelector,
// an EnforceSameName conflict and an over-long name reported in status, and the remote
// namespace deleted when offloading ends.  The agents use the shared virtual node
// name, so run these alone or with the whole suite (`make e2e E2E_RUN=TestOffload`).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

var nsofGVR = schema.GroupVersionResource{Group: "offloading.liqo.io", Version: "v1alpha1", Resource: "namespaceoffloadings"}

const (
	offSchedLabel   = "liqo.io/scheduling-enabled"
	offOrigin       = "virtualkubelet.liqo.io/origin"
	offDestination  = "virtualkubelet.liqo.io/destination"
	offRemoteID     = "liqo.io/remote-cluster-id"
	offOriginalName = "liqo.io/original-name"
	offTimeout      = 45 * time.Second
)

// offIdentity is what the agent derives from the clusters (DESIGN.md Decision 2).
type offIdentity struct {
	homeID, foreignID, homeName, foreignName, suffix string
}

func offDeriveName(id string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(id) {
		if b.Len() == 8 {
			break
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func offIdentities(t *testing.T) offIdentity {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	h, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(h.UID))
	return offIdentity{homeID: string(h.UID), foreignID: string(f.UID),
		homeName: offDeriveName(string(h.UID)), foreignName: offDeriveName(string(f.UID)),
		suffix: hex.EncodeToString(sum[:])[:6]}
}

func (id offIdentity) defaultName(ns string) string {
	return ns + "-" + id.homeName + "-" + id.suffix
}

func offRand(n int) string {
	const a = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = a[rand.Intn(len(a))]
	}
	return string(b)
}

// offNamespace creates namespace name in cluster c; it is deleted when the test ends.
func offNamespace(t *testing.T, c *Cluster, name string) {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{labelE2E: "true", labelE2ETest: dnsLabel(t.Name(), 63)}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create namespace %s: %v", c.Name, name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("%s: delete namespace %s: %v", c.Name, name, err)
		}
	})
}

func offDyn(t *testing.T) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(tb.Home.Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// offCreateNSOF creates the NamespaceOffloading of ns with spec.  At the end of the
// test (the agents are stopped by then) its finalizers are cleared and it is deleted.
func offCreateNSOF(t *testing.T, d dynamic.Interface, ns string, spec map[string]interface{}) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "offloading.liqo.io/v1alpha1", "kind": "NamespaceOffloading",
		"metadata": map[string]interface{}{"name": "offloading", "namespace": ns},
		"spec":     spec,
	}}
	ctx := ctxFor(t, 20*time.Second)
	if _, err := d.Resource(nsofGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create NamespaceOffloading in %s: %v", ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r := d.Resource(nsofGVR).Namespace(ns)
		_, _ = r.Patch(ctx, "offloading", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		if err := r.Delete(ctx, "offloading", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete NamespaceOffloading in %s: %v", ns, err)
		}
	})
}

// offForeignCleanup deletes, when the test ends, the foreign namespaces this home
// cluster's agents made for home namespaces whose name contains token (the test's random
// part), whatever a failed test left behind; other namespaces (e.g. the demo's) stay.
func offForeignCleanup(t *testing.T, id offIdentity, token string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		l, err := tb.Foreign.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: offOrigin + "=" + id.homeID})
		if err != nil {
			t.Errorf("list foreign namespaces: %v", err)
			return
		}
		for _, n := range l.Items {
			if strings.Contains(n.Annotations[offOriginalName], token) {
				_ = tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, n.Name, metav1.DeleteOptions{})
			}
		}
	})
}

// offSetup is the start of an offloading test: the cluster identities, a dynamic client
// of home, no virtual node left from before (and none after the test), and a random
// token for the test's namespace names whose foreign namespaces are removed at the end.
func offSetup(t *testing.T) (offIdentity, dynamic.Interface, string) {
	t.Helper()
	id, d := offIdentities(t), offDyn(t)
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	r := offRand(5)
	offForeignCleanup(t, id, r)
	return id, d, r
}

func offStartAgent(t *testing.T, extra ...string) *Liqolet {
	t.Helper()
	args := append([]string{"run",
		"--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.LiqoletTokenKubeconfig,
		"--node-name", vnodeName}, extra...)
	return StartLiqolet(t, args...)
}

// offStatus is the part of a NamespaceOffloading the tests look at.
type offStatus struct {
	exists     bool
	deleting   bool
	finalizers []string
	phase      string
	remoteName string
	conds      []map[string]interface{} // this agent's key
}

func offGetStatus(ctx context.Context, d dynamic.Interface, ns, key string) (offStatus, error) {
	var s offStatus
	u, err := d.Resource(nsofGVR).Namespace(ns).Get(ctx, "offloading", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	s.exists = true
	s.deleting = u.GetDeletionTimestamp() != nil
	s.finalizers = u.GetFinalizers()
	s.phase, _, _ = unstructured.NestedString(u.Object, "status", "offloadingPhase")
	s.remoteName, _, _ = unstructured.NestedString(u.Object, "status", "remoteNamespaceName")
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "remoteNamespacesConditions", key)
	for _, c := range list {
		if m, ok := c.(map[string]interface{}); ok {
			s.conds = append(s.conds, m)
		}
	}
	return s, nil
}

func (s offStatus) cond(typ string) map[string]interface{} {
	for _, c := range s.conds {
		if c["type"] == typ {
			return c
		}
	}
	return nil
}

func (s offStatus) String() string {
	return fmt.Sprintf("exists=%v deleting=%v finalizers=%v phase=%q remoteNamespaceName=%q conditions=%v",
		s.exists, s.deleting, s.finalizers, s.phase, s.remoteName, s.conds)
}

// offWaitStatus polls until check(status) returns "" (its last complaint is reported).
func offWaitStatus(t *testing.T, l *Liqolet, d dynamic.Interface, ns, key, what string, check func(s offStatus) string) offStatus {
	t.Helper()
	return offWaitStatusFor(t, offTimeout, l, d, ns, key, what, check)
}

// offWaitStatusFor is offWaitStatus with another timeout.
func offWaitStatusFor(t *testing.T, timeout time.Duration, l *Liqolet, d dynamic.Interface, ns, key, what string, check func(s offStatus) string) offStatus {
	t.Helper()
	var last offStatus
	var why string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v) while waiting for %s", err, what)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := offGetStatus(ctx, d, ns, key)
		cancel()
		if err == nil {
			last = s
			if why = check(s); why == "" {
				return s
			}
		} else {
			why = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s: %s\nlast NamespaceOffloading of %s: %v", what, timeout, why, ns, last)
	return last
}

// offReady checks a Ready offloading to remote.
func offReady(id offIdentity, remote string) func(s offStatus) string {
	return func(s offStatus) string {
		switch {
		case !s.exists:
			return "no NamespaceOffloading"
		case s.phase != "Ready":
			return "phase " + s.phase
		case s.remoteName != remote:
			return "remoteNamespaceName " + s.remoteName
		}
		if c := s.cond("OffloadingRequired"); c == nil || c["status"] != "True" || c["reason"] != "ClusterSelected" {
			return fmt.Sprintf("OffloadingRequired condition %v", c)
		}
		if c := s.cond("Ready"); c == nil || c["status"] != "True" || c["reason"] != "NamespaceCreated" {
			return fmt.Sprintf("Ready condition %v", c)
		}
		fin := "liqolet.liqo.io/" + id.foreignName
		for _, f := range s.finalizers {
			if f == fin {
				return ""
			}
		}
		return "finalizer " + fin + " missing"
	}
}

// offFailed checks CreationLoopBackOff with a message containing msg.
func offFailed(msg string) func(s offStatus) string {
	return func(s offStatus) string {
		if s.phase != "AllFailed" {
			return "phase " + s.phase
		}
		c := s.cond("Ready")
		if c == nil || c["status"] != "False" || c["reason"] != "CreationLoopBackOff" {
			return fmt.Sprintf("Ready condition %v", c)
		}
		if m, _ := c["message"].(string); !strings.Contains(m, msg) {
			return fmt.Sprintf("message %q does not say %q", m, msg)
		}
		return ""
	}
}

// offWaitRemote waits until the foreign namespace name exists with the ownership labels
// and annotations for home namespace local.
func offWaitRemote(t *testing.T, l *Liqolet, id offIdentity, name, local string) {
	t.Helper()
	Eventually(t, offTimeout, "foreign namespace "+name+" for "+local, func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v):\n%s", err, tail(l.LogPath, 30))
		}
		n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		want := map[string]string{offOrigin: id.homeID, offDestination: id.foreignID, offRemoteID: id.homeID}
		for k, v := range want {
			if n.Labels[k] != v {
				return false, fmt.Errorf("label %s=%q, want %q", k, n.Labels[k], v)
			}
		}
		if n.Annotations[offOriginalName] != local {
			return false, fmt.Errorf("annotation %s=%q, want %q", offOriginalName, n.Annotations[offOriginalName], local)
		}
		return n.DeletionTimestamp == nil, nil
	})
}

// offWaitRemoteGone waits until the foreign namespace name no longer exists.
func offWaitRemoteGone(t *testing.T, name string) {
	t.Helper()
	Eventually(t, offTimeout, "foreign namespace "+name+" deleted", func(ctx context.Context) (bool, error) {
		_, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// offRemoteFor lists the foreign namespaces that claim home namespace local.
func offRemoteFor(t *testing.T, id offIdentity, local string) []string {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	l, err := tb.Foreign.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: offOrigin + "=" + id.homeID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range l.Items {
		if n.Annotations[offOriginalName] == local && n.DeletionTimestamp == nil {
			out = append(out, n.Name)
		}
	}
	return out
}

// offWaitLabel waits until the home namespace's scheduling label is (want true) or is
// not (want false) "true".
func offWaitLabel(t *testing.T, ns string, want bool) {
	t.Helper()
	Eventually(t, offTimeout, fmt.Sprintf("home namespace %s label %s present=%v", ns, offSchedLabel, want),
		func(ctx context.Context) (bool, error) {
			n, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return (n.Labels[offSchedLabel] == "true") == want, nil
		})
}

// Every mapping strategy through the NamespaceOffloading resource, the pod offloading
// strategies' namespace label, the clusterSelector both ways, an EnforceSameName
// conflict and an over-long DefaultName in status, then the end of offloading.
func TestOffloadResource(t *testing.T) {
	id, d, r := offSetup(t)
	dn, es, sn := "o-dn-"+r, "o-es-"+r, "o-sn-"+r
	selYes, selNo := "o-sy-"+r, "o-sx-"+r
	conflict := "o-cf-" + r
	long := "o-long-" + r + "-" + strings.Repeat("x", 63-len("o-long-"+r+"-"))
	for _, ns := range []string{dn, es, sn, selYes, selNo, conflict, long} {
		offNamespace(t, tb.Home, ns)
	}
	// A namespace of the same name that is not ours: the agent must leave it alone.
	offNamespace(t, tb.Foreign, conflict)
	squat, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), conflict, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// untouched fails the test if the foreign namespace conflict is no longer the one
	// the test created, unchanged.
	untouched := func(t *testing.T) {
		t.Helper()
		n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), conflict, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the foreign namespace %s that is not ours: %v", conflict, err)
		}
		if n.UID != squat.UID || n.DeletionTimestamp != nil || !reflect.DeepEqual(n.Labels, squat.Labels) ||
			!reflect.DeepEqual(n.Annotations, squat.Annotations) {
			t.Fatalf("the agent took over, changed or deleted foreign namespace %s: uid %s -> %s, labels %v -> %v, annotations %v -> %v, deleting %v",
				conflict, squat.UID, n.UID, squat.Labels, n.Labels, squat.Annotations, n.Annotations, n.DeletionTimestamp != nil)
		}
	}

	offCreateNSOF(t, d, dn, map[string]interface{}{})
	offCreateNSOF(t, d, es, map[string]interface{}{"namespaceMappingStrategy": "EnforceSameName"})
	offCreateNSOF(t, d, sn, map[string]interface{}{"namespaceMappingStrategy": "SelectedName",
		"remoteNamespaceName": "chosen-" + r, "podOffloadingStrategy": "Local"})
	offCreateNSOF(t, d, selYes, map[string]interface{}{"podOffloadingStrategy": "Remote",
		"clusterSelector": map[string]interface{}{"nodeSelectorTerms": []interface{}{
			map[string]interface{}{"matchExpressions": []interface{}{
				map[string]interface{}{"key": "liqo.io/type", "operator": "In", "values": []interface{}{"virtual-node"}},
				map[string]interface{}{"key": "liqo.io/remote-cluster-id", "operator": "In", "values": []interface{}{id.foreignID}},
			}}}}})
	offCreateNSOF(t, d, selNo, map[string]interface{}{
		"clusterSelector": map[string]interface{}{"nodeSelectorTerms": []interface{}{
			map[string]interface{}{"matchExpressions": []interface{}{
				map[string]interface{}{"key": "topology.kubernetes.io/region", "operator": "In", "values": []interface{}{"mars"}},
			}}}}})
	offCreateNSOF(t, d, conflict, map[string]interface{}{"namespaceMappingStrategy": "EnforceSameName"})
	offCreateNSOF(t, d, long, map[string]interface{}{})

	l := offStartAgent(t)

	t.Run("DefaultName", func(t *testing.T) {
		offWaitStatus(t, l, d, dn, id.foreignName, "Ready", offReady(id, id.defaultName(dn)))
		offWaitRemote(t, l, id, id.defaultName(dn), dn)
		offWaitLabel(t, dn, true)
	})
	t.Run("EnforceSameName", func(t *testing.T) {
		offWaitStatus(t, l, d, es, id.foreignName, "Ready", offReady(id, es))
		offWaitRemote(t, l, id, es, es)
		offWaitLabel(t, es, true)
	})
	t.Run("SelectedName", func(t *testing.T) {
		offWaitStatus(t, l, d, sn, id.foreignName, "Ready", offReady(id, "chosen-"+r))
		offWaitRemote(t, l, id, "chosen-"+r, sn)
		offWaitLabel(t, sn, false) // podOffloadingStrategy Local: no scheduling label
	})
	t.Run("ClusterSelectorMatches", func(t *testing.T) {
		offWaitStatus(t, l, d, selYes, id.foreignName, "Ready", offReady(id, id.defaultName(selYes)))
		offWaitRemote(t, l, id, id.defaultName(selYes), selYes)
		offWaitLabel(t, selYes, true)
	})
	t.Run("ClusterSelectorDoesNotMatch", func(t *testing.T) {
		offWaitStatus(t, l, d, selNo, id.foreignName, "NoClusterSelected", func(s offStatus) string {
			if s.phase != "NoClusterSelected" {
				return "phase " + s.phase
			}
			if c := s.cond("OffloadingRequired"); c == nil || c["status"] != "False" || c["reason"] != "ClusterNotSelected" {
				return fmt.Sprintf("OffloadingRequired condition %v", c)
			}
			if s.cond("Ready") != nil {
				return "a Ready condition for a cluster that is not selected"
			}
			return ""
		})
		if got := offRemoteFor(t, id, selNo); len(got) != 0 {
			t.Fatalf("remote namespaces %v exist for %s, whose clusterSelector does not select this cluster", got, selNo)
		}
	})
	t.Run("EnforceSameNameConflict", func(t *testing.T) {
		offWaitStatus(t, l, d, conflict, id.foreignName, "CreationLoopBackOff", offFailed("already exists"))
		untouched(t)
	})
	t.Run("NameTooLong", func(t *testing.T) {
		full := id.defaultName(long)
		offWaitStatus(t, l, d, long, id.foreignName, "CreationLoopBackOff",
			offFailed(fmt.Sprintf("%s is %d characters, over the 63", full, len(full))))
		if got := offRemoteFor(t, id, long); len(got) != 0 {
			t.Fatalf("remote namespaces %v exist for %s, whose remote name is too long (truncated?)", got, long)
		}
	})
	t.Run("OffloadingEnds", func(t *testing.T) {
		ctx := ctxFor(t, 10*time.Second)
		if err := d.Resource(nsofGVR).Namespace(dn).Delete(ctx, "offloading", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		offWaitRemoteGone(t, id.defaultName(dn))
		offWaitLabel(t, dn, false)
		// Our finalizer goes last, so the NamespaceOffloading disappears.
		offWaitStatus(t, l, d, dn, id.foreignName, "NamespaceOffloading deleted", func(s offStatus) string {
			if s.exists {
				return "still there: " + s.String()
			}
			return ""
		})
		// The conflicting namespace is still not ours to delete. (A fresh deadline: the
		// waits above may use up the first one while the foreign namespace controller
		// finalizes the deleted namespace on a loaded machine.)
		ctx = ctxFor(t, 10*time.Second)
		if err := d.Resource(nsofGVR).Namespace(conflict).Delete(ctx, "offloading", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		offWaitStatus(t, l, d, conflict, id.foreignName, "NamespaceOffloading deleted", func(s offStatus) string {
			if s.exists {
				return "still there: " + s.String()
			}
			return ""
		})
		untouched(t)
	})
}

// Offloading with --offload (clusters without the resource): DefaultName,
// NS=REMOTE (SelectedName), --offload-mapping EnforceSameName; a restart with another
// mapping moves the remote namespace, and a restart without the flag ends offloading.
func TestOffloadFlag(t *testing.T) {
	id, _, r := offSetup(t)
	a, b := "o-fa-"+r, "o-fb-"+r
	offNamespace(t, tb.Home, a)
	offNamespace(t, tb.Home, b)

	l := offStartAgent(t, "--offload", a, "--offload", b+"=picked-"+r)
	offWaitRemote(t, l, id, id.defaultName(a), a)
	offWaitRemote(t, l, id, "picked-"+r, b)
	offWaitLabel(t, a, true)
	offWaitLabel(t, b, true)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}

	// EnforceSameName for a: the DefaultName namespace goes, the same-name one comes;
	// b is no longer offloaded.
	l = offStartAgent(t, "--offload-mapping", "EnforceSameName", "--offload", a)
	offWaitRemote(t, l, id, a, a)
	offWaitRemoteGone(t, id.defaultName(a))
	offWaitRemoteGone(t, "picked-"+r)
	offWaitLabel(t, b, false)
	offWaitLabel(t, a, true)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}

	l = offStartAgent(t)
	offWaitRemoteGone(t, a)
	offWaitLabel(t, a, false)
	if got := offRemoteFor(t, id, a); len(got) != 0 {
		t.Fatalf("remote namespaces %v left for %s after offloading ended", got, a)
	}
}

// offOtherKey is the status key of another agent (another foreign cluster) in the
// SomeFailed test: what that agent would merge-patch (DESIGN.md Decision 1).
const offOtherKey = "e2e-other-cluster"

// offOtherConds is that agent's conditions: selected, and Ready (ready) or
// CreationLoopBackOff.
func offOtherConds(ready bool) []interface{} {
	st, reason := "True", "NamespaceCreated"
	if !ready {
		st, reason = "False", "CreationLoopBackOff"
	}
	return []interface{}{
		map[string]interface{}{"type": "OffloadingRequired", "status": "True", "reason": "ClusterSelected",
			"message": "written by the test as another agent", "lastTransitionTime": "2026-01-02T03:04:05Z"},
		map[string]interface{}{"type": "Ready", "status": st, "reason": reason,
			"message": "written by the test as another agent", "lastTransitionTime": "2026-01-02T03:04:05Z"},
	}
}

// offPatchOtherKey merge-patches the other agent's key into the status of ns's
// NamespaceOffloading (conds nil removes the key), as that agent would.
func offPatchOtherKey(t *testing.T, d dynamic.Interface, ns string, conds []interface{}) {
	t.Helper()
	var v interface{}
	if conds != nil {
		v = conds
	}
	body, err := json.Marshal(map[string]interface{}{"status": map[string]interface{}{
		"remoteNamespacesConditions": map[string]interface{}{offOtherKey: v}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Resource(nsofGVR).Namespace(ns).Patch(ctxFor(t, 10*time.Second), "offloading", types.MergePatchType, body,
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("patch the other agent's key into the status of %s: %v", ns, err)
	}
}

// offOtherKeyIs checks that the other agent's key still holds exactly what the test
// wrote (the agent patches only its own key).
func offOtherKeyIs(ctx context.Context, d dynamic.Interface, ns string, want []interface{}) (string, error) {
	u, err := d.Resource(nsofGVR).Namespace(ns).Get(ctx, "offloading", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	got, _, _ := unstructured.NestedSlice(u.Object, "status", "remoteNamespacesConditions", offOtherKey)
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("the other agent's key %s = %v, want %v", offOtherKey, got, want), nil
	}
	return "", nil
}

// The offloading phase is computed from every agent's key (DESIGN.md Decision 1, Liqo
// v0.8 §3.1): this agent fails (EnforceSameName, and the foreign namespace of that name
// is not ours) while another agent's key says Ready: SomeFailed. The other key failing
// too: AllFailed; Ready again: SomeFailed. The foreign namespace in the way deleted (by
// its owner): this agent creates its own and the phase is Ready. The other agent's key
// is never changed by this one.
func TestOffloadSomeFailed(t *testing.T) {
	id, d, r := offSetup(t)
	ns := "o-sf-" + r
	offNamespace(t, tb.Home, ns)
	offNamespace(t, tb.Foreign, ns) // not ours: in the way of EnforceSameName
	ctx := ctxFor(t, 5*time.Minute)
	squat, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	offCreateNSOF(t, d, ns, map[string]interface{}{"namespaceMappingStrategy": "EnforceSameName"})
	offPatchOtherKey(t, d, ns, offOtherConds(true))

	phaseIs := func(want string) func(s offStatus) string {
		return func(s offStatus) string {
			if s.phase != want {
				return "phase " + s.phase
			}
			c := s.cond("Ready")
			if want == "Ready" {
				if c == nil || c["status"] != "True" {
					return fmt.Sprintf("this agent's Ready condition %v", c)
				}
			} else if c == nil || c["status"] != "False" || c["reason"] != "CreationLoopBackOff" ||
				!strings.Contains(fmt.Sprint(c["message"]), "already exists") {
				return fmt.Sprintf("this agent's Ready condition %v, want CreationLoopBackOff (already exists)", c)
			}
			return ""
		}
	}
	otherIs := func(want []interface{}) {
		t.Helper()
		if why, err := offOtherKeyIs(ctx, d, ns, want); err != nil || why != "" {
			t.Fatalf("%s %v", why, err)
		}
	}

	l := offStartAgent(t)
	offWaitStatus(t, l, d, ns, id.foreignName, "SomeFailed (this agent failed, the other Ready)", phaseIs("SomeFailed"))
	otherIs(offOtherConds(true))

	offPatchOtherKey(t, d, ns, offOtherConds(false))
	offWaitStatus(t, l, d, ns, id.foreignName, "AllFailed (the other agent failed too)", phaseIs("AllFailed"))
	otherIs(offOtherConds(false))

	offPatchOtherKey(t, d, ns, offOtherConds(true))
	offWaitStatus(t, l, d, ns, id.foreignName, "SomeFailed again (the other agent Ready again)", phaseIs("SomeFailed"))
	otherIs(offOtherConds(true))

	// The foreign namespace in the way was never touched.
	n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the foreign namespace %s that is not ours: %v", ns, err)
	}
	if n.UID != squat.UID || n.DeletionTimestamp != nil || n.Labels[offOrigin] != "" || n.Annotations[offOriginalName] != "" {
		t.Fatalf("the agent changed foreign namespace %s that is not ours: uid %s -> %s, deleting %v, labels %v, annotations %v",
			ns, squat.UID, n.UID, n.DeletionTimestamp != nil, n.Labels, n.Annotations)
	}

	// Its owner deletes it: this agent's retry (backoff up to 60 s, RETRY_MAX_MS in
	// src/reflect/offload.c) then creates ours, after the foreign namespace controller
	// has finished deleting that one.
	if err := tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	offWaitStatusFor(t, 2*time.Minute, l, d, ns, id.foreignName, "Ready (both agents ready)", func(s offStatus) string {
		if why := phaseIs("Ready")(s); why != "" {
			return why
		}
		return offReady(id, ns)(s)
	})
	offWaitRemote(t, l, id, ns, ns)
	otherIs(offOtherConds(true))
}
