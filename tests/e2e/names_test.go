// Liqo v1 names (DESIGN.md Decision 18): the v1 label family chosen by --compat v1, and
// the NamespaceOffloading resource served as offloading.liqo.io/v1beta1.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	namesV1Origin      = "offloading.liqo.io/origin"
	namesV1Destination = "offloading.liqo.io/destination"
	namesV1NodeName    = "offloading.liqo.io/nodename"
)

var nsofV1beta1GVR = schema.GroupVersionResource{Group: "offloading.liqo.io", Version: "v1beta1", Resource: "namespaceoffloadings"}

// namesForeignCleanup deletes, when the test ends, the foreign namespaces this home
// cluster's agents made, under either label family, for home namespaces whose name
// contains token (whatever a failed run left behind).
func namesForeignCleanup(t *testing.T, id offIdentity, token string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, origin := range []string{namesV1Origin, offOrigin} {
			l, err := tb.Foreign.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: origin + "=" + id.homeID})
			if err != nil {
				t.Errorf("list foreign namespaces: %v", err)
				return
			}
			for _, n := range l.Items {
				if strings.Contains(n.Annotations[offOriginalName], token) {
					_ = tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, n.Name, metav1.DeleteOptions{})
				}
			}
		}
	})
}

// namesLabels checks that labels carry the v1 ownership labels with these values (and
// the node name when node != ""), and none of the v0.8 family.
func namesLabels(what string, labels map[string]string, id offIdentity, node string) string {
	want := map[string]string{namesV1Origin: id.homeID, namesV1Destination: id.foreignID}
	if node != "" {
		want[namesV1NodeName] = node
	}
	for k, v := range want {
		if labels[k] != v {
			return fmt.Sprintf("%s: label %s=%q, want %q (labels %v)", what, k, labels[k], v, labels)
		}
	}
	if node == "" {
		if v, ok := labels[namesV1NodeName]; ok {
			return fmt.Sprintf("%s: label %s=%q, want none", what, namesV1NodeName, v)
		}
	}
	for _, k := range []string{offOrigin, offDestination} {
		if v, ok := labels[k]; ok {
			return fmt.Sprintf("%s: v0.8 label %s=%q in compat v1", what, k, v)
		}
	}
	return ""
}

// With --compat v1 every object the agent writes in the foreign cluster (namespace, pod,
// ConfigMap, Service) carries offloading.liqo.io/origin|destination (pods also
// offloading.liqo.io/nodename) and no virtualkubelet.liqo.io label, the agent finds them
// again through those labels (the pod's status comes back home, an update reaches the
// copy), and a foreign pod that forges the v1 labels is neither touched nor mirrored home.
// A namespace of the pair under the v0.8 labels is named in the start-up log and left
// alone, by the agent and by `liqolet unpeer --compat v1`, which removes the v1 objects.
func TestNamesCompatV1(t *testing.T) {
	id := offIdentities(t)
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	ns := "n1-" + offRand(6)
	namesForeignCleanup(t, id, ns)
	offNamespace(t, tb.Home, ns)
	ctx := ctxFor(t, 10*time.Minute)
	h := tb.Home.Client
	if _, err := h.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Labels: map[string]string{"app": "web",
			// a home object cannot claim its copy for someone else, in either family
			offOrigin: "forged", namesV1Origin: "forged", namesV1NodeName: "forged"}},
		Data: map[string]string{"k": "v1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(8080)}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// What an agent with compat v0.8 left for this pair: not this agent's now, left alone,
	// and the start-up log says why.
	old := ns + "-old08"
	if _, err := tb.Foreign.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: old, Labels: map[string]string{offOrigin: id.homeID, offDestination: id.foreignID},
		Annotations: map[string]string{offOriginalName: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, old, metav1.DeleteOptions{})
	})

	l := offStartAgent(t, "--offload", ns, "--compat", "v1")
	remote := id.defaultName(ns)
	f := tb.Foreign.Client
	Eventually(t, offTimeout, "foreign namespace "+remote+" with the v1 labels", func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v):\n%s", err, tail(l.LogPath, 30))
		}
		n, err := f.CoreV1().Namespaces().Get(ctx, remote, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if w := namesLabels("namespace "+remote, n.Labels, id, ""); w != "" {
			return false, fmt.Errorf("%s", w)
		}
		return n.Annotations[offOriginalName] == ns, nil
	})
	if b, _ := os.ReadFile(l.LogPath); !strings.Contains(string(b), "Liqo names: compat v1 (labels "+namesV1Origin+", "+
		namesV1Destination+", "+namesV1NodeName+")") {
		t.Errorf("the start-up log does not name the v1 family:\n%s", tail(l.LogPath, 30))
	}
	if b, _ := os.ReadFile(l.LogPath); !strings.Contains(string(b), "the foreign cluster has namespaces of this peering "+
		"labelled with the compat v0.8 names ("+offOrigin+")") {
		t.Errorf("the start-up log does not warn of the v0.8 namespace %s:\n%s", old, tail(l.LogPath, 30))
	}
	Eventually(t, 2*time.Minute, "default ServiceAccount of the remote namespace "+remote,
		func(ctx context.Context) (bool, error) {
			_, err := f.CoreV1().ServiceAccounts(remote).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, ignoreNotFound(err)
		})
	waitVirtualNode(t, l, vnodeAppear, "Ready", vnExistsAndReady)

	// A foreign user forges a pod with the v1 labels of this peering (and the node name)
	// under a name no home pod has: evidence, not truth (DESIGN.md Decision 17).
	impostor := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "impostor", Namespace: remote,
		Labels: map[string]string{namesV1Origin: id.homeID, namesV1Destination: id.foreignID, namesV1NodeName: vnodeName}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/x:1"}}}}
	if _, err := f.CoreV1().Pods(remote).Create(ctx, impostor, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: vnodeName,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: mustQuantity("10m"), corev1.ResourceMemory: mustQuantity("16Mi")}}}}}}
	homePod, err := h.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	Eventually(t, podsTimeout, "pod, ConfigMap and Service reflected with the v1 labels; the pod's status back home",
		func(ctx context.Context) (bool, error) {
			if done, err := l.Exited(); done {
				t.Fatalf("liqolet exited (%v):\n%s", err, tail(l.LogPath, 30))
			}
			rp, err := f.CoreV1().Pods(remote).Get(ctx, "web-0", metav1.GetOptions{})
			if err != nil {
				return false, ignoreNotFound(err)
			}
			if w := namesLabels("remote pod", rp.Labels, id, vnodeName); w != "" {
				return false, fmt.Errorf("%s", w)
			}
			if rp.Annotations["liqolet.io/home-pod-uid"] != string(homePod.UID) {
				return false, fmt.Errorf("remote pod home uid %q, want %q", rp.Annotations["liqolet.io/home-pod-uid"], homePod.UID)
			}
			cm, err := f.CoreV1().ConfigMaps(remote).Get(ctx, "cfg", metav1.GetOptions{})
			if err != nil {
				return false, ignoreNotFound(err)
			}
			if w := namesLabels("remote ConfigMap", cm.Labels, id, ""); w != "" {
				return false, fmt.Errorf("%s", w)
			}
			if cm.Labels["app"] != "web" || cm.Data["k"] != "v1" {
				return false, fmt.Errorf("remote ConfigMap labels %v data %v", cm.Labels, cm.Data)
			}
			svc, err := f.CoreV1().Services(remote).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, ignoreNotFound(err)
			}
			if w := namesLabels("remote Service", svc.Labels, id, ""); w != "" {
				return false, fmt.Errorf("%s", w)
			}
			// status round trip: Running at home with the remote pod's IP
			hp, err := h.CoreV1().Pods(ns).Get(ctx, "web-0", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if rp.Status.Phase != corev1.PodRunning || hp.Status.Phase != corev1.PodRunning {
				return false, nil
			}
			if hp.Status.PodIP == "" || hp.Status.PodIP != rp.Status.PodIP {
				return false, fmt.Errorf("home pod IP %q, remote %q", hp.Status.PodIP, rp.Status.PodIP)
			}
			return true, nil
		})

	// An update reaches the copy: the agent still finds its object by the v1 labels.
	if _, err := h.CoreV1().ConfigMaps(ns).Patch(ctx, "cfg", types.MergePatchType,
		[]byte(`{"data":{"k":"v2"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, cfgTimeout, "the ConfigMap update reflected", func(ctx context.Context) (bool, error) {
		cm, err := f.CoreV1().ConfigMaps(remote).Get(ctx, "cfg", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return cm.Data["k"] == "v2" && namesLabels("", cm.Labels, id, "") == "", nil
	})

	// The impostor is still there, untouched, and nothing of it reached home.
	time.Sleep(3 * time.Second)
	ip, err := f.CoreV1().Pods(remote).Get(ctx, "impostor", metav1.GetOptions{})
	if err != nil || ip.DeletionTimestamp != nil {
		t.Errorf("the forged foreign pod was deleted by the agent: %v", err)
	}
	if _, err := h.CoreV1().Pods(ns).Get(ctx, "impostor", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a home pod appeared for the forged foreign pod: %v", err)
	}
	// No object of this peering carries the v0.8 family.
	sel := metav1.ListOptions{LabelSelector: offOrigin}
	if l, err := f.CoreV1().Pods(remote).List(ctx, sel); err != nil || len(l.Items) != 0 {
		t.Errorf("foreign pods with %s: %v %d", offOrigin, err, len(l.Items))
	}
	if l, err := f.CoreV1().ConfigMaps(remote).List(ctx, sel); err != nil || len(l.Items) != 0 {
		t.Errorf("foreign ConfigMaps with %s: %v %d", offOrigin, err, len(l.Items))
	}

	if n, err := f.CoreV1().Namespaces().Get(ctx, old, metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil ||
		n.Labels[offOrigin] != id.homeID || n.Labels[namesV1Origin] != "" {
		t.Errorf("the v0.8 namespace %s was touched: %v", old, err)
	}

	// unpeer with the same compat recognises the v1 objects: the remote pod, then the home
	// pod, the remote namespace; the v0.8 namespace is not this family's and stays.
	out, code := runUnpeer(t, "--compat", "v1", "--take-over")
	if code != 0 {
		t.Fatalf("unpeer --compat v1 --take-over: exit %d:\n%s", code, out)
	}
	unpeerCount(t, out, "remote pods deleted", 1)
	unpeerCount(t, out, "home pods deleted", 1)
	unpeerCount(t, out, "remote namespaces deleted", 1)
	Eventually(t, offTimeout, "remote namespace "+remote+" gone after unpeer", func(ctx context.Context) (bool, error) {
		_, err := f.CoreV1().Namespaces().Get(ctx, remote, metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})
	if n, err := f.CoreV1().Namespaces().Get(ctx, old, metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Errorf("unpeer --compat v1 removed the v0.8 namespace %s: %v", old, err)
	}
}

// namesNSOFCRD serves the home cluster's NamespaceOffloading in v1alpha1 only or in
// v1beta1 too (tools/testbed nsof-crd).
func namesNSOFCRD(t *testing.T, version string) {
	t.Helper()
	out, err := exec.Command(tb.Script, "nsof-crd", version).CombinedOutput()
	if err != nil {
		t.Fatalf("tools/testbed nsof-crd %s: %v\n%s", version, err, out)
	}
}

// A home cluster that serves NamespaceOffloading as offloading.liqo.io/v1beta1 (Liqo v1):
// the agent discovers it at start-up, adds its finalizer and writes its status through
// v1beta1 (the object's managedFields say which version each write used), offloads the
// namespace, and on deletion removes the remote namespace and its finalizer. The
// v1alpha1-only CRD is put back afterwards (storage stays v1alpha1 throughout, so the
// other tests never see a difference).
func TestNamesNamespaceOffloadingV1beta1(t *testing.T) {
	namesNSOFCRD(t, "v1beta1")
	t.Cleanup(func() { namesNSOFCRD(t, "v1alpha1") }) // runs last: after the agent stopped
	id := offIdentities(t)
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	ns := "n2-" + offRand(6)
	offForeignCleanup(t, id, ns)
	offNamespace(t, tb.Home, ns)
	d := offDyn(t)
	r := d.Resource(nsofV1beta1GVR).Namespace(ns)
	obj := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "offloading.liqo.io/v1beta1", "kind": "NamespaceOffloading",
		"metadata": map[string]interface{}{"name": "offloading", "namespace": ns},
		"spec": map[string]interface{}{"namespaceMappingStrategy": "DefaultName",
			"podOffloadingStrategy": "LocalAndRemote"},
	}}
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := r.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create v1beta1 NamespaceOffloading: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = r.Patch(ctx, "offloading", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		if err := r.Delete(ctx, "offloading", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete NamespaceOffloading: %v", err)
		}
	})

	l := offStartAgent(t)
	remote := id.defaultName(ns)
	offWaitRemote(t, l, id, remote, ns)
	if b, _ := os.ReadFile(l.LogPath); !strings.Contains(string(b), "NamespaceOffloading offloading.liqo.io/v1beta1") {
		t.Errorf("the start-up log does not name v1beta1:\n%s", tail(l.LogPath, 30))
	}
	key := id.foreignName
	var managers string
	Eventually(t, offTimeout, "status Ready and the agent's finalizer, both written through v1beta1", func(ctx context.Context) (bool, error) {
		o, err := r.Get(ctx, "offloading", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		phase, _, _ := unstructured.NestedString(o.Object, "status", "offloadingPhase")
		conds, _, _ := unstructured.NestedSlice(o.Object, "status", "remoteNamespacesConditions", key)
		fin := false
		for _, f := range o.GetFinalizers() {
			fin = fin || f == "liqolet.liqo.io/"+key
		}
		// Each manager's entry names the version of its writes: the agent's (manager
		// "liqolet", from its User-Agent) finalizer patch and status patch are v1beta1
		// ones, and none of its entries is v1alpha1.
		var main, status, alpha bool
		managers = ""
		for _, m := range o.GetManagedFields() {
			managers += fmt.Sprintf(" %s/%s/%s", m.Manager, m.Subresource, m.APIVersion)
			if m.Manager != "liqolet" {
				continue
			}
			alpha = alpha || m.APIVersion != "offloading.liqo.io/v1beta1"
			main = main || (m.APIVersion == "offloading.liqo.io/v1beta1" && m.Subresource == "")
			status = status || (m.APIVersion == "offloading.liqo.io/v1beta1" && m.Subresource == "status")
		}
		return phase == "Ready" && len(conds) > 0 && fin && main && status && !alpha, nil
	})
	t.Logf("managedFields (manager/subresource/apiVersion):%s", managers)

	// Deleting it through v1beta1: the remote namespace goes, then the finalizer.
	if err := r.Delete(ctx, "offloading", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	offWaitRemoteGone(t, remote)
	Eventually(t, offTimeout, "NamespaceOffloading gone (finalizer removed)", func(ctx context.Context) (bool, error) {
		_, err := r.Get(ctx, "offloading", metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})
}
