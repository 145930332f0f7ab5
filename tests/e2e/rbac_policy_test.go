package e2e

// End-to-end tests of the admission policies (issue 17 finding 2; docs/rbac.md): with the
// agent's own credentials (the client certificate "liqolet" and the ServiceAccount token
// liqo/liqolet) every step outside what the agent does is refused by a
// ValidatingAdmissionPolicy of deploy/rbac/<cluster>-policy.yaml, although RBAC alone
// would allow it; and the same steps inside its domain (a pod bound to the virtual node,
// a namespace carrying its labels, its own label of a home namespace) are allowed, so the
// policies are not simply denying everything.  No agent runs: the requests are made
// directly.  It creates a pod bound to the virtual node, so run it alone
// (`make e2e E2E_RUN=TestRBACPolicy`).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// The policies of the committed manifests (node liqo-foreign: role base liqolet-liqo-foreign).
const rpBase = "liqolet-" + vnodeName

// rpOwned: the ownership labels the foreign policies require (any non-empty values with
// the committed manifests, which pin neither cluster id).
var rpOwned = map[string]string{
	"virtualkubelet.liqo.io/origin":      "rp-home",
	"virtualkubelet.liqo.io/destination": "rp-foreign",
}

// rpDenied fails unless err is the refusal of the admission policy rpBase+suffix (an
// RBAC refusal, or any other error, does not count: RBAC allows every request tried).
func rpDenied(t *testing.T, what string, err error, suffix string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: allowed, want a denial by policy %s%s", what, rpBase, suffix)
		return
	}
	want := fmt.Sprintf("ValidatingAdmissionPolicy '%s%s'", rpBase, suffix)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: got %v, want Forbidden by %s", what, err, want)
	}
}

func rpAllowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v, want allowed", what, err)
	}
}

func rpClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func rpPod(name string, labels map[string]string, node string) *corev1.Pod {
	zero := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &zero,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:  []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func rpNamespace(t *testing.T, c *Cluster, name string, labels map[string]string) {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	all := map[string]string{labelE2E: "true", labelE2ETest: dnsLabel(t.Name(), 63)}
	for k, v := range labels {
		all[k] = v
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// The policies are installed by the test bed: without them every case below would be
// "allowed", so say so plainly first.
func rpPoliciesPresent(t *testing.T) {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	want := map[*Cluster][]string{
		tb.Home:    {"-home-create", "-home-pods", "-home-namespaces", "-home-events", "-home-offloadings", "-home-csr"},
		tb.Foreign: {"-foreign-objects", "-foreign-namespaces", "-foreign-connect"},
	}
	for c, suffixes := range want {
		for _, s := range suffixes {
			ar := c.Client.AdmissionregistrationV1()
			if _, err := ar.ValidatingAdmissionPolicies().Get(ctx, rpBase+s, metav1.GetOptions{}); err != nil {
				t.Fatalf("%s: policy %s%s: %v (the test bed applies deploy/rbac/%s-policy.yaml)", c.Name, rpBase, s, err, c.Name)
			}
			if _, err := ar.ValidatingAdmissionPolicyBindings().Get(ctx, rpBase+s, metav1.GetOptions{}); err != nil {
				t.Fatalf("%s: binding %s%s: %v", c.Name, rpBase, s, err)
			}
		}
	}
}

// TestRBACPolicyForeign: in the foreign cluster the agent's identities write only in
// namespaces carrying its labels, only objects carrying them, never in kube-system, and
// create or delete only namespaces carrying them.
func TestRBACPolicyForeign(t *testing.T) {
	rpPoliciesPresent(t)
	f := tb.Foreign
	plain := "rp-plain-" + offRand(5)
	owned := "rp-owned-" + offRand(5)
	rpNamespace(t, f, plain, map[string]string{"team": "a"})
	rpNamespace(t, f, owned, rpOwned)
	ctx := ctxFor(t, 2*time.Minute)
	// An object of someone else inside the agent's namespace: the agent may not adopt it.
	if _, err := f.Client.CoreV1().ConfigMaps(owned).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, id := range []struct{ kind, kubeconfig string }{
		{"cert", f.LiqoletCertKubeconfig}, {"token", f.LiqoletTokenKubeconfig}} {
		t.Run(id.kind, func(t *testing.T) {
			cs := rpClient(t, id.kubeconfig)
			ctx := ctxFor(t, 2*time.Minute)
			core := cs.CoreV1()
			sec := func(name string, labels map[string]string) *corev1.Secret {
				return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
					StringData: map[string]string{"k": "v"}}
			}

			// a pod in kube-system, even with the ownership labels
			p, err := core.Pods("kube-system").Create(ctx, rpPod("rp-"+id.kind, rpOwned, ""), metav1.CreateOptions{})
			if err == nil {
				_ = f.Client.CoreV1().Pods("kube-system").Delete(context.Background(), p.Name, metav1.DeleteOptions{})
			}
			rpDenied(t, "create a pod in kube-system", err, "-foreign-objects")

			// a Secret in a namespace the agent did not label
			_, err = core.Secrets(plain).Create(ctx, sec("rp-"+id.kind, rpOwned), metav1.CreateOptions{})
			rpDenied(t, "create a Secret in an unlabelled namespace", err, "-foreign-objects")

			// in its own namespace: only with the ownership labels
			_, err = core.Secrets(owned).Create(ctx, sec("rp-bare-"+id.kind, nil), metav1.CreateOptions{})
			rpDenied(t, "create an unlabelled Secret in the agent's namespace", err, "-foreign-objects")
			_, err = core.Secrets(owned).Create(ctx, sec("rp-"+id.kind, rpOwned), metav1.CreateOptions{})
			rpAllowed(t, "create a labelled Secret in the agent's namespace", err)
			_, err = core.Secrets(owned).Patch(ctx, "rp-"+id.kind, types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"virtualkubelet.liqo.io/origin":null}}}`), metav1.PatchOptions{})
			rpDenied(t, "strip the ownership label of the agent's Secret", err, "-foreign-objects")
			err = core.Secrets(owned).Delete(ctx, "rp-"+id.kind, metav1.DeleteOptions{})
			rpAllowed(t, "delete the agent's Secret", err)

			// someone else's ConfigMap: neither adopted by labelling it nor deleted
			lbl := `{"metadata":{"labels":{"virtualkubelet.liqo.io/origin":"rp-home","virtualkubelet.liqo.io/destination":"rp-foreign"}}}`
			_, err = core.ConfigMaps(owned).Patch(ctx, "theirs", types.MergePatchType, []byte(lbl), metav1.PatchOptions{})
			rpDenied(t, "adopt an unlabelled ConfigMap by labelling it", err, "-foreign-objects")
			err = core.ConfigMaps(owned).Delete(ctx, "theirs", metav1.DeleteOptions{})
			rpDenied(t, "delete an unlabelled ConfigMap", err, "-foreign-objects")

			// namespaces
			err = core.Namespaces().Delete(ctx, plain, metav1.DeleteOptions{})
			rpDenied(t, "delete a namespace without the agent's labels", err, "-foreign-namespaces")
			_, err = core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name: "rp-new-bare-" + id.kind}}, metav1.CreateOptions{})
			rpDenied(t, "create a namespace without the agent's labels", err, "-foreign-namespaces")
			_, err = core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name: "rp-new-nopsa-" + id.kind, Labels: rpOwned}}, metav1.CreateOptions{})
			rpDenied(t, "create a labelled namespace without the Pod Security level", err, "-foreign-namespaces")
			withPSA := func(level string) map[string]string {
				m := map[string]string{psaLabel: level}
				for k, v := range rpOwned {
					m[k] = v
				}
				return m
			}
			_, err = core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name: "rp-new-priv-" + id.kind, Labels: withPSA("privileged")}}, metav1.CreateOptions{})
			rpDenied(t, "create a labelled namespace with Pod Security privileged", err, "-foreign-namespaces")
			name := "rp-new-" + id.kind + "-" + offRand(4)
			_, err = core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name: name, Labels: withPSA("baseline")}}, metav1.CreateOptions{})
			rpAllowed(t, "create a namespace with the agent's labels", err)
			if err == nil {
				psa := func(v string) []byte {
					return []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, psaLabel, v))
				}
				_, err = core.Namespaces().Patch(ctx, name, types.MergePatchType, psa(`"privileged"`), metav1.PatchOptions{})
				rpDenied(t, "weaken the Pod Security level of its namespace", err, "-foreign-namespaces")
				_, err = core.Namespaces().Patch(ctx, name, types.MergePatchType, psa("null"), metav1.PatchOptions{})
				rpDenied(t, "remove the Pod Security label of its namespace", err, "-foreign-namespaces")
				_, err = core.Namespaces().Patch(ctx, name, types.MergePatchType,
					[]byte(`{"metadata":{"labels":{"team":"x"}}}`), metav1.PatchOptions{})
				rpDenied(t, "add another label to its namespace", err, "-foreign-namespaces")
				_, err = core.Namespaces().Patch(ctx, name, types.MergePatchType, psa(`"restricted"`), metav1.PatchOptions{})
				rpAllowed(t, "raise the Pod Security level of its namespace", err)
				rpAllowed(t, "delete the namespace it created", core.Namespaces().Delete(ctx, name, metav1.DeleteOptions{}))
			}
		})
	}
	// nothing of the above changed the objects that were not the agent's
	if _, err := f.Client.CoreV1().Namespaces().Get(ctx, plain, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s: %v", plain, err)
	}
	cm, err := f.Client.CoreV1().ConfigMaps(owned).Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil || len(cm.Labels) != 0 {
		t.Errorf("ConfigMap theirs: %v, labels %v; want unchanged", err, cm.GetLabels())
	}
}

// TestRBACPolicyHome: at home the agent's identities change and delete only pods bound to
// the virtual node, change only their own labels of a namespace, and report Events only
// about the kinds they reflect.
func TestRBACPolicyHome(t *testing.T) {
	rpPoliciesPresent(t)
	h := tb.Home
	ns := "rp-" + offRand(6)
	rpNamespace(t, h, ns, map[string]string{"team": "a"})
	ctx := ctxFor(t, 2*time.Minute)
	other := fmt.Sprintf("%s-node-1", h.Name) // a physical (kwok) node of the home cluster
	for _, p := range []*corev1.Pod{rpPod("elsewhere", nil, other), rpPod("on-vnode-cert", nil, vnodeName),
		rpPod("on-vnode-token", nil, vnodeName)} {
		if _, err := h.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	statusPatch := []byte(`{"status":{"message":"rbac-policy-test"}}`)

	for _, id := range []struct{ kind, kubeconfig string }{
		{"cert", h.LiqoletCertKubeconfig}, {"token", h.LiqoletTokenKubeconfig}} {
		t.Run(id.kind, func(t *testing.T) {
			cs := rpClient(t, id.kubeconfig)
			ctx := ctxFor(t, 2*time.Minute)
			pods := cs.CoreV1().Pods(ns)
			zero := int64(0)

			// a pod on another node
			_, err := pods.Patch(ctx, "elsewhere", types.MergePatchType, statusPatch, metav1.PatchOptions{}, "status")
			rpDenied(t, "patch the status of a pod on "+other, err, "-home-pods")
			_, err = pods.Patch(ctx, "elsewhere", types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"liqo.io/shadowPod":"true"}}}`), metav1.PatchOptions{})
			rpDenied(t, "label a pod on "+other, err, "-home-pods")
			err = pods.Delete(ctx, "elsewhere", metav1.DeleteOptions{GracePeriodSeconds: &zero})
			rpDenied(t, "delete a pod on "+other, err, "-home-pods")

			// a pod on the virtual node: allowed
			mine := "on-vnode-" + id.kind
			_, err = pods.Patch(ctx, mine, types.MergePatchType, statusPatch, metav1.PatchOptions{}, "status")
			rpAllowed(t, "patch the status of a pod on the virtual node", err)
			err = pods.Delete(ctx, mine, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			rpAllowed(t, "delete a pod on the virtual node", err)

			// namespace labels: its own only
			nss := cs.CoreV1().Namespaces()
			_, err = nss.Patch(ctx, ns, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"b"}}}`), metav1.PatchOptions{})
			rpDenied(t, "change another label of a namespace", err, "-home-namespaces")
			_, err = nss.Patch(ctx, ns, types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"liqo.io/scheduling-enabled":"true","evil":"x"}}}`), metav1.PatchOptions{})
			rpDenied(t, "add a foreign label along with its own", err, "-home-namespaces")
			_, err = nss.Patch(ctx, ns, types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"note":"x"}}}`), metav1.PatchOptions{})
			rpDenied(t, "annotate a namespace", err, "-home-namespaces")
			_, err = nss.Patch(ctx, ns, types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"liqo.io/scheduling-enabled":"true"}}}`), metav1.PatchOptions{})
			rpAllowed(t, "set liqo.io/scheduling-enabled", err)
			_, err = nss.Patch(ctx, ns, types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"liqo.io/scheduling-enabled":null}}}`), metav1.PatchOptions{})
			rpAllowed(t, "remove liqo.io/scheduling-enabled", err)

			// events: only about the reflected kinds
			ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "rp-"},
				InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: other},
				Reason:         "Test", Message: "rbac policy test", Type: corev1.EventTypeNormal,
				Source:              corev1.EventSource{Component: "liqolet"},
				ReportingController: "liqolet", ReportingInstance: "liqolet"}
			_, err = cs.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{})
			rpDenied(t, "an Event about a Node", err, "-home-events")
			ev.InvolvedObject = corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "elsewhere"}
			_, err = cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})
			rpAllowed(t, "an Event about a pod", err)
		})
	}
	// the pod on the other node and the namespace's labels are untouched
	p, err := h.Client.CoreV1().Pods(ns).Get(ctx, "elsewhere", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil || p.Status.Message == "rbac-policy-test" || p.Labels["liqo.io/shadowPod"] != "" {
		t.Errorf("pod elsewhere: %v; want untouched", err)
	}
	n, err := h.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || n.Labels["team"] != "a" || n.Labels["evil"] != "" || n.Annotations["note"] != "" {
		t.Errorf("namespace %s: %v, labels %v; want team=a only", ns, err, n.GetLabels())
	}
}
