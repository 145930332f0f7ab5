package e2e

// Issue 17 finding 8: remote namespaces enforce a Pod Security Standard, so a home tenant
// cannot run a privileged or hostPath pod in the provider through the virtual node. The
// foreign kube-apiserver's own PodSecurity admission (on by default) does the refusing.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const psaLabel = "pod-security.kubernetes.io/enforce"

func remoteNSLevel(ctx context.Context, ns string) (string, error) {
	n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return n.Labels[psaLabel], nil
}

func waitRemoteNSLevel(t *testing.T, ns, want, what string) {
	t.Helper()
	Eventually(t, podsTimeout, what, func(ctx context.Context) (bool, error) {
		got, err := remoteNSLevel(ctx, ns)
		return err == nil && got == want, err
	})
}

func setRemoteNSLabel(t *testing.T, ns, value string) {
	t.Helper()
	v := "null"
	if value != "" {
		v = fmt.Sprintf("%q", value)
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, psaLabel, v)
	ctx := ctxFor(t, 30*time.Second)
	if _, err := tb.Foreign.Client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch),
		metav1.PatchOptions{}); err != nil {
		t.Fatalf("label the remote namespace %s: %v", ns, err)
	}
}

// homePodEvent waits for an Event of the given reason on home pod ns/name whose message
// contains msg.
func homePodEvent(t *testing.T, ns, name, reason, msg string) corev1.Event {
	t.Helper()
	var got corev1.Event
	Eventually(t, podsTimeout, fmt.Sprintf("Event %s on home pod %s/%s containing %q", reason, ns, name, msg),
		func(ctx context.Context) (bool, error) {
			evs, err := tb.Home.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
				FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + name})
			if err != nil {
				return false, err
			}
			for _, ev := range evs.Items {
				if ev.Reason == reason && strings.Contains(ev.Message, msg) {
					got = ev
					return true, nil
				}
			}
			return false, nil
		})
	return got
}

// With the default (baseline): the remote namespace carries the label; a privileged pod
// and a hostPath pod are refused by the provider (FailedReflection at home, no remote
// pod) while a plain pod is offloaded; a removed or weakened label is set again, a
// stricter one set in the foreign cluster is kept.
func TestPodSecurityRemoteNamespaces(t *testing.T) {
	l, ns, remote := podsStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	waitRemoteNSLevel(t, remote, "baseline", "remote namespace "+remote+" labelled baseline")

	hp := tb.Home.Client.CoreV1().Pods(ns)
	yes := true
	priv := fidPod("priv", nil, nil)
	priv.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
	hostPath := fidPod("hostpath", nil, nil)
	hostPath.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	hostPath.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
	for _, p := range []*corev1.Pod{priv, hostPath, fidPod("plain", nil, nil)} {
		if _, err := hp.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create home pod %s: %v", p.Name, err)
		}
	}
	fidWaitRemote(t, l, remote, "plain")
	ev := homePodEvent(t, ns, "priv", "FailedReflection", "PodSecurity")
	t.Logf("privileged pod: %s", ev.Message)
	if !strings.Contains(ev.Message, "baseline") {
		t.Errorf("the refusal does not name the baseline level: %q", ev.Message)
	}
	homePodEvent(t, ns, "hostpath", "FailedReflection", "hostPath")
	for _, name := range []string{"priv", "hostpath"} {
		if _, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("remote pod %s/%s: want NotFound, got %v", remote, name, err)
		}
	}

	// Someone in the foreign cluster removes the label, then weakens it: set again.
	setRemoteNSLabel(t, remote, "")
	waitRemoteNSLevel(t, remote, "baseline", "the removed label set again")
	setRemoteNSLabel(t, remote, "privileged")
	waitRemoteNSLevel(t, remote, "baseline", "the weakened label raised again")
	// The provider tightens it: kept (checked over several seconds of watch traffic).
	setRemoteNSLabel(t, remote, "restricted")
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		got, err := remoteNSLevel(ctx, remote)
		if err != nil {
			t.Fatal(err)
		}
		if got != "restricted" {
			t.Fatalf("the provider's stricter level was replaced by %q", got)
		}
	}
	if done, err := l.Exited(); done {
		t.Fatalf("liqolet exited (%v)", err)
	}
}

// --pod-security none: no label is written (the provider's cluster-wide default applies)
// and none is added later. The bed's admission policy (deploy/rbac/foreign-policy.yaml,
// generated for the default baseline) refuses such a namespace, so the test swaps in the
// one `rbacgen foreign --policy --pod-security none` writes, as an operator choosing none
// would, and puts the default back at the end.
func TestPodSecurityNone(t *testing.T) {
	pol := func(level string) []byte {
		out, err := exec.Command(filepath.Join(tb.Top, "build", "tools", "rbacgen"), "foreign", "--policy",
			"--pod-security", level).Output()
		if err != nil {
			t.Fatalf("rbacgen (make rbac builds it): %v", err)
		}
		return out
	}
	apply := func(doc []byte) {
		ctx := ctxFor(t, time.Minute)
		r, err := kubectl(ctx, tb.Foreign, bytes.NewReader(doc), "apply", "-f", "-")
		if err != nil || r.code != 0 {
			t.Fatalf("kubectl apply: %v %s", err, r.stderr)
		}
	}
	def := pol("baseline")
	apply(pol("none"))
	t.Cleanup(func() { apply(def) })
	time.Sleep(2 * time.Second) // the API server's policy informer
	_, _, remote := podsStart(t, "--pod-security", "none")
	ctx := ctxFor(t, time.Minute)
	time.Sleep(3 * time.Second) // several watch events and passes
	got, err := remoteNSLevel(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	if got != "" {
		t.Errorf("remote namespace %s has %s=%q with --pod-security none", remote, psaLabel, got)
	}
}
