package e2e

// End-to-end tests of `liqolet peer` and deploy/ (issue 18 items 1 and 2): from the test
// bed's admin credentials only, peer creates the identities and the agent's kubeconfigs;
// `liqolet run` with exactly those peers the clusters; a second peer changes nothing;
// --dry-run writes nothing; unpeer --remove-identity removes what peer wrote and keeps
// an object of the same name that peer did not write. The kustomize base applies
// server-side to the home cluster, and the agent started the way its Deployment starts
// it (in-cluster environment, the foreign kubeconfig from peer's Secret) peers.
//
// Each test uses its own namespace and node name: the bed's own identity (liqo/liqolet,
// RBAC for node liqo-foreign) is never touched.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// runLiqolet runs the built binary with args and returns its combined output and exit status.
func runLiqolet(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	bin := BuildLiqolet(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running liqolet %s: %v", args[0], err)
	}
	t.Logf("liqolet %s -> exit %d:\n%s", strings.Join(args, " "), code, out)
	return string(out), code
}

// peerCleanup removes, when the test ends, whatever a peering of (ns, node) may have left:
// both namespaces, the RBAC objects named liqolet-<node>-*, the node and its Lease.
func peerCleanup(t *testing.T, ns, node string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		prefix := "liqolet-" + node + "-"
		for _, c := range []*Cluster{tb.Home, tb.Foreign} {
			r := c.Client.RbacV1()
			if l, err := r.ClusterRoleBindings().List(ctx, metav1.ListOptions{}); err == nil {
				for _, o := range l.Items {
					if strings.HasPrefix(o.Name, prefix) {
						_ = r.ClusterRoleBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
					}
				}
			}
			if l, err := r.ClusterRoles().List(ctx, metav1.ListOptions{}); err == nil {
				for _, o := range l.Items {
					if strings.HasPrefix(o.Name, prefix) {
						_ = r.ClusterRoles().Delete(ctx, o.Name, metav1.DeleteOptions{})
					}
				}
			}
			if l, err := r.RoleBindings("kube-node-lease").List(ctx, metav1.ListOptions{}); err == nil {
				for _, o := range l.Items {
					if strings.HasPrefix(o.Name, prefix) {
						_ = r.RoleBindings("kube-node-lease").Delete(ctx, o.Name, metav1.DeleteOptions{})
					}
				}
			}
			if l, err := r.Roles("kube-node-lease").List(ctx, metav1.ListOptions{}); err == nil {
				for _, o := range l.Items {
					if strings.HasPrefix(o.Name, prefix) {
						_ = r.Roles("kube-node-lease").Delete(ctx, o.Name, metav1.DeleteOptions{})
					}
				}
			}
			a := c.Client.AdmissionregistrationV1()
			if l, err := a.ValidatingAdmissionPolicyBindings().List(ctx, metav1.ListOptions{}); err == nil {
				for _, o := range l.Items {
					if strings.HasPrefix(o.Name, prefix) {
						_ = a.ValidatingAdmissionPolicyBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
					}
				}
			}
			if l, err := a.ValidatingAdmissionPolicies().List(ctx, metav1.ListOptions{}); err == nil {
				for _, o := range l.Items {
					if strings.HasPrefix(o.Name, prefix) {
						_ = a.ValidatingAdmissionPolicies().Delete(ctx, o.Name, metav1.DeleteOptions{})
					}
				}
			}
			_ = c.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		}
		_ = tb.Home.Client.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{})
		_ = tb.Home.Client.CoordinationV1().Leases("kube-node-lease").Delete(ctx, node, metav1.DeleteOptions{})
	})
}

// peerBindings counts the ClusterRoleBindings of cluster c that name ServiceAccount ns/liqolet.
func peerBindings(t *testing.T, c *Cluster, ns string) int {
	t.Helper()
	l, err := c.Client.RbacV1().ClusterRoleBindings().List(ctxFor(t, 20*time.Second), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range l.Items {
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Namespace == ns && s.Name == "liqolet" {
				n++
			}
		}
	}
	return n
}

// peerPolicies counts the ValidatingAdmissionPolicies of cluster c named after node, and
// those that match ServiceAccount ns/liqolet.
func peerPolicies(t *testing.T, c *Cluster, ns, node string) (named, matching int) {
	t.Helper()
	l, err := c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctxFor(t, 20*time.Second), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Items {
		if !strings.HasPrefix(p.Name, "liqolet-"+node+"-") {
			continue
		}
		named++
		for _, m := range p.Spec.MatchConditions {
			if strings.Contains(m.Expression, "system:serviceaccount:"+ns+":liqolet") {
				matching++
				break
			}
		}
	}
	return named, matching
}

func peerSAUID(t *testing.T, c *Cluster, ns string) string {
	t.Helper()
	sa, err := c.Client.CoreV1().ServiceAccounts(ns).Get(ctxFor(t, 20*time.Second), "liqolet", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s: ServiceAccount %s/liqolet: %v", c.Name, ns, err)
	}
	return string(sa.UID)
}

// peerWhoAmI is the user a kubeconfig authenticates as (SelfSubjectReview).
func peerWhoAmI(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("%s: %v", kubeconfig, err)
	}
	if cfg.CertData != nil || cfg.CertFile != "" || cfg.Insecure {
		t.Errorf("%s: a client certificate or insecure TLS in the agent's kubeconfig", kubeconfig)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctxFor(t, 20*time.Second), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: SelfSubjectReview: %v", kubeconfig, err)
	}
	return r.Status.UserInfo.Username
}

func peerWaitNodeReady(t *testing.T, l *Liqolet, node string) {
	t.Helper()
	Eventually(t, 90*time.Second, "virtual node "+node+" Ready", func(ctx context.Context) (bool, error) {
		if done, err := l.Exited(); done {
			return false, fmt.Errorf("liqolet exited: %v\n%s", err, tail(l.LogPath, 40))
		}
		n, err := tb.Home.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
}

// peerOffloadPod binds a pod in the offloaded namespace pns to node and waits for its
// remote copy, made by the agent with the credentials peer produced.
func peerOffloadPod(t *testing.T, l *Liqolet, id offIdentity, pns, node string) {
	t.Helper()
	remote := id.defaultName(pns)
	offWaitRemote(t, l, id, remote, pns)
	Eventually(t, 2*time.Minute, "default ServiceAccount of "+remote, func(ctx context.Context) (bool, error) {
		_, err := tb.Foreign.Client.CoreV1().ServiceAccounts(remote).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	p := podsVirtualNodePod("peered", nil, corev1.RestartPolicyAlways)
	p.Spec.NodeSelector = nil
	p.Spec.NodeName = node
	hp, err := tb.Home.Client.CoreV1().Pods(pns).Create(ctxFor(t, 20*time.Second), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, podsTimeout, "remote pod of "+pns+"/peered", func(ctx context.Context) (bool, error) {
		rp, err := tb.Foreign.Client.CoreV1().Pods(remote).Get(ctx, "peered", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		// ours, for this home pod (its UID), not just any pod of that name
		for _, v := range rp.Labels {
			if v == string(hp.UID) {
				return true, nil
			}
		}
		for _, v := range rp.Annotations {
			if v == string(hp.UID) {
				return true, nil
			}
		}
		return false, fmt.Errorf("remote pod %s/peered does not name home pod UID %s: labels %v", remote, hp.UID, rp.Labels)
	})
}

func peerNoFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		t.Errorf("%d file(s) written into %s", len(ents), dir)
	}
}

func TestPeerSetsUpPeering(t *testing.T) {
	id := offIdentities(t)
	r := offRand(5)
	ns, node := "lqp-"+r, "liqo-peer-"+r
	peerCleanup(t, ns, node)
	offForeignCleanup(t, id, r)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	base := []string{"peer", "--home-kubeconfig", tb.Home.Kubeconfig, "--foreign-kubeconfig",
		tb.Foreign.Kubeconfig, "--namespace", ns, "--node-name", node, "--output-dir", out}

	// credentials that are not admin enough (the bed's agent identity as "home admin"):
	// refused before the first write, the missing permissions named
	text, code := runLiqolet(t, 2*time.Minute, "peer", "--home-kubeconfig", tb.Home.LiqoletTokenKubeconfig,
		"--foreign-kubeconfig", tb.Foreign.Kubeconfig, "--namespace", ns, "--node-name", node, "--output-dir", out)
	if code != 1 || !strings.Contains(text, "may not create customresourcedefinitions.apiextensions.k8s.io") ||
		!strings.Contains(text, "nothing was changed") {
		t.Errorf("peer with a non-admin home kubeconfig: exit %d, want 1 naming the missing permissions", code)
	}
	if _, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctxFor(t, 20*time.Second), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("foreign: a refused peer created namespace %s (%v)", ns, err)
	}

	// --dry-run: the objects printed, nothing written in either cluster or on disk
	text, code = runLiqolet(t, 2*time.Minute, append(base, "--dry-run")...)
	if code != 0 {
		t.Fatalf("peer --dry-run: exit %d", code)
	}
	for _, want := range []string{"kind: ClusterRoleBinding", "ServiceAccount " + ns + "/liqolet", "liqolet-" + node + "-home", "liqolet-" + node + "-foreign"} {
		if !strings.Contains(text, want) {
			t.Errorf("peer --dry-run output lacks %q", want)
		}
	}
	if strings.Contains(text, "token: ") {
		t.Errorf("peer --dry-run printed a token")
	}
	for _, c := range []*Cluster{tb.Home, tb.Foreign} {
		if _, err := c.Client.CoreV1().Namespaces().Get(ctxFor(t, 20*time.Second), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: --dry-run created namespace %s (%v)", c.Name, ns, err)
		}
		if _, err := c.Client.RbacV1().ClusterRoles().Get(ctxFor(t, 20*time.Second), "liqolet-"+node+"-"+c.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: --dry-run created ClusterRole liqolet-%s-%s (%v)", c.Name, node, c.Name, err)
		}
	}
	peerNoFiles(t, out)

	// the peering from admin credentials; the check at its end passes
	text, code = runLiqolet(t, 3*time.Minute, base...)
	if code != 0 || !strings.Contains(text, "check passed") {
		t.Fatalf("peer: exit %d, check not passed", code)
	}
	homeKC, foreignKC := filepath.Join(out, "home.kubeconfig"), filepath.Join(out, "foreign.kubeconfig")
	for _, f := range []string{homeKC, foreignKC} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", f, st.Mode().Perm())
		}
	}
	for _, kc := range []string{homeKC, foreignKC} {
		if who := peerWhoAmI(t, kc); who != "system:serviceaccount:"+ns+":liqolet" {
			t.Errorf("%s authenticates as %q, want the ServiceAccount %s/liqolet", kc, who, ns)
		}
	}
	for _, c := range []*Cluster{tb.Home, tb.Foreign} {
		if named, matching := peerPolicies(t, c, ns, node); named == 0 || matching != named {
			t.Errorf("%s: %d admission policies named after %s, %d of them match %s/liqolet", c.Name, named, node, matching, ns)
		}
	}
	uids := [2]string{peerSAUID(t, tb.Home, ns), peerSAUID(t, tb.Foreign, ns)}
	if n := peerBindings(t, tb.Home, ns); n != 1 {
		t.Errorf("home: %d ClusterRoleBindings name %s/liqolet, want 1", n, ns)
	}
	if n := peerBindings(t, tb.Foreign, ns); n != 1 {
		t.Errorf("foreign: %d ClusterRoleBindings name %s/liqolet, want 1", n, ns)
	}

	// again: nothing new, same objects
	text, code = runLiqolet(t, 3*time.Minute, base...)
	if code != 0 || !strings.Contains(text, " 0 created") {
		t.Fatalf("second peer: exit %d, or it created objects", code)
	}
	if u := peerSAUID(t, tb.Home, ns); u != uids[0] {
		t.Errorf("home ServiceAccount re-created by the second peer (%s -> %s)", uids[0], u)
	}
	if u := peerSAUID(t, tb.Foreign, ns); u != uids[1] {
		t.Errorf("foreign ServiceAccount re-created by the second peer (%s -> %s)", uids[1], u)
	}
	if n := peerBindings(t, tb.Home, ns) + peerBindings(t, tb.Foreign, ns); n != 2 {
		t.Errorf("%d ClusterRoleBindings name %s/liqolet after the second peer, want 2", n, ns)
	}

	// the agent with exactly these files peers: node Ready, a pod offloaded
	pns := "p-" + r
	offNamespace(t, tb.Home, pns)
	l := StartLiqolet(t, "run", "--home-kubeconfig", homeKC, "--foreign-kubeconfig", foreignKC,
		"--namespace", ns, "--node-name", node, "--offload", pns)
	peerWaitNodeReady(t, l, node)
	peerOffloadPod(t, l, id, pns, node)
	if err := l.Stop(); err != nil {
		t.Fatalf("liqolet run: %v", err)
	}

	// hostile: a Secret under the name peer uses for --in-cluster, not written by peer:
	// unpeer --remove-identity must leave it
	decoy := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "liqolet-foreign-kubeconfig", Namespace: ns},
		StringData: map[string]string{"kubeconfig": "not peer's"}}
	if _, err := tb.Home.Client.CoreV1().Secrets(ns).Create(ctxFor(t, 20*time.Second), decoy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// unpeer with admin credentials and --remove-identity removes what peer created
	text, code = runLiqolet(t, 4*time.Minute, "unpeer", "--home-kubeconfig", tb.Home.Kubeconfig,
		"--foreign-kubeconfig", tb.Foreign.Kubeconfig, "--namespace", ns, "--node-name", node,
		"--timeout", "90s", "--remove-identity")
	if code != 0 {
		t.Fatalf("unpeer --remove-identity: exit %d", code)
	}
	ctx := ctxFor(t, 30*time.Second)
	for _, c := range []*Cluster{tb.Home, tb.Foreign} {
		if _, err := c.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "liqolet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: ServiceAccount %s/liqolet still there (%v)", c.Name, ns, err)
		}
		if n := peerBindings(t, c, ns); n != 0 {
			t.Errorf("%s: %d ClusterRoleBindings still name %s/liqolet", c.Name, n, ns)
		}
		if _, err := c.Client.RbacV1().ClusterRoles().Get(ctx, "liqolet-"+node+"-"+c.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: ClusterRole liqolet-%s-%s still there (%v)", c.Name, node, c.Name, err)
		}
		if _, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("%s: namespace %s should be kept: %v", c.Name, ns, err)
		}
		if named, _ := peerPolicies(t, c, ns, node); named != 0 {
			t.Errorf("%s: %d admission policies named after %s still there", c.Name, named, node)
		}
	}
	if _, err := tb.Home.Client.RbacV1().Roles("kube-node-lease").Get(ctx, "liqolet-"+node+"-node-lease", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("home: Role kube-node-lease/liqolet-%s-node-lease still there (%v)", node, err)
	}
	if s, err := tb.Home.Client.CoreV1().Secrets(ns).Get(ctx, "liqolet-foreign-kubeconfig", metav1.GetOptions{}); err != nil || string(s.Data["kubeconfig"]) != "not peer's" {
		t.Errorf("unpeer --remove-identity touched a Secret peer did not write: %v", err)
	}
	if !strings.Contains(text, "kept     Secret "+ns+"/liqolet-foreign-kubeconfig") {
		t.Errorf("unpeer did not say it kept the decoy Secret")
	}
	if _, err := tb.Home.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("virtual node %s still there after unpeer (%v)", node, err)
	}
}

// peerDeploymentArgs reads the container args of the Deployment in deploy/deployment.yaml.
func peerDeploymentArgs(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(tb.Top, "deploy", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var d appsv1.Deployment
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if d.Kind == "Deployment" {
			c := d.Spec.Template.Spec.Containers
			if len(c) != 1 {
				t.Fatalf("deployment.yaml: %d containers", len(c))
			}
			sc := c[0].SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("deployment.yaml: container securityContext not restricted: %+v", sc)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("deployment.yaml: want 1 replica, strategy Recreate")
			}
			return c[0].Args
		}
	}
	t.Fatal("deploy/deployment.yaml has no Deployment")
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestPeerInClusterManifest(t *testing.T) {
	// the kustomize base applies server-side to the home cluster (with the generated RBAC)
	ctx := ctxFor(t, 3*time.Minute)
	// --force-conflicts: the bed installed the same RBAC and policies itself (field manager
	// liqolet-testbed), and a ValidatingAdmissionPolicy's matchConstraints is an atomic
	// field, so another manager's apply of the same file conflicts on it
	res := mustKubectl(t, ctx, tb.Home, nil, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", filepath.Join(tb.Top, "deploy"))
	for _, want := range []string{"deployment.apps/liqolet serverside-applied", "clusterrolebinding.rbac.authorization.k8s.io/liqolet-liqo-foreign-home serverside-applied",
		"customresourcedefinition.apiextensions.k8s.io/namespaceoffloadings.offloading.liqo.io serverside-applied",
		"validatingadmissionpolicy.admissionregistration.k8s.io/liqolet-liqo-foreign-home-create serverside-applied"} {
		if !strings.Contains(res, want) {
			t.Errorf("kubectl apply -k deploy/ output lacks %q:\n%s", want, res)
		}
	}

	// peer --in-cluster: the foreign kubeconfig in the home Secret
	id := offIdentities(t)
	r := offRand(5)
	ns, node := "lqi-"+r, "liqo-peer-"+r
	peerCleanup(t, ns, node)
	offForeignCleanup(t, id, r)
	unused := filepath.Join(t.TempDir(), "unused")
	text, code := runLiqolet(t, 3*time.Minute, "peer", "--in-cluster", "--home-kubeconfig", tb.Home.Kubeconfig,
		"--foreign-kubeconfig", tb.Foreign.Kubeconfig, "--foreign-server", tb.Foreign.APIServer,
		"--namespace", ns, "--node-name", node, "--output-dir", unused)
	if code != 0 || !strings.Contains(text, "check passed") {
		t.Fatalf("peer --in-cluster: exit %d, check not passed", code)
	}
	peerNoFiles(t, unused) // the credentials went into the Secret only
	sec, err := tb.Home.Client.CoreV1().Secrets(ns).Get(ctxFor(t, 20*time.Second), "liqolet-foreign-kubeconfig", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc := sec.Data["kubeconfig"]
	if !bytes.Contains(kc, []byte("server: "+tb.Foreign.APIServer)) || !bytes.Contains(kc, []byte("token: ")) {
		t.Fatalf("Secret %s/liqolet-foreign-kubeconfig holds no usable kubeconfig", ns)
	}

	// the pod's view: the ServiceAccount token and CA at the in-cluster paths, the Secret's
	// kubeconfig at its mount path, the environment as the kubelet sets it
	sa := filepath.Join(t.TempDir(), "serviceaccount")
	mount := filepath.Join(t.TempDir(), "foreign")
	for _, d := range []string{sa, mount} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	exp := int64(3600)
	tr, err := tb.Home.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctxFor(t, 20*time.Second), "liqolet",
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(tb.Env["HOME_CA_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{filepath.Join(sa, "token"): []byte(tr.Status.Token),
		filepath.Join(sa, "ca.crt"): ca, filepath.Join(sa, "namespace"): []byte(ns),
		filepath.Join(mount, "kubeconfig"): kc} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u := strings.TrimPrefix(tb.Home.APIServer, "https://")
	host, port, err := net.SplitHostPort(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	t.Setenv("LIQOLET_SA_DIR", sa)
	t.Setenv("POD_IP", "127.0.0.1")
	httpPort := freePort(t)

	// the Deployment's args; substituted: the mount path, the namespace and node name of
	// this test's identity, and the probe port. $(POD_IP) is expanded as the kubelet does.
	args := []string{"run"}
	sawListen := false
	for _, a := range peerDeploymentArgs(t) {
		switch {
		case strings.HasPrefix(a, "--foreign-kubeconfig="):
			a = "--foreign-kubeconfig=" + filepath.Join(mount, "kubeconfig")
		case strings.HasPrefix(a, "--namespace="):
			a = "--namespace=" + ns
		case strings.HasPrefix(a, "--node-name="):
			a = "--node-name=" + node
		case strings.HasPrefix(a, "--http-listen="):
			sawListen = true
			a = strings.ReplaceAll(a, "$(POD_IP)", os.Getenv("POD_IP"))
			a = a[:strings.LastIndex(a, ":")+1] + strconv.Itoa(httpPort)
		case strings.HasPrefix(a, "--home-kubeconfig"):
			t.Fatalf("deployment.yaml passes %s: the Deployment must use in-cluster credentials", a)
		}
		args = append(args, a)
	}
	if !sawListen {
		t.Fatal("deployment.yaml passes no --http-listen: the probes have nothing to ask")
	}
	pns := "p-" + r
	offNamespace(t, tb.Home, pns)
	l := StartLiqolet(t, append(args, "--offload", pns)...)
	peerWaitNodeReady(t, l, node)
	Eventually(t, 60*time.Second, "/readyz 200 (the readiness probe)", func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	peerOffloadPod(t, l, id, pns, node)
	if err := l.Stop(); err != nil {
		t.Fatalf("liqolet run: %v", err)
	}

	// unpeer --remove-identity also removes the Secret peer wrote
	_, code = runLiqolet(t, 4*time.Minute, "unpeer", "--home-kubeconfig", tb.Home.Kubeconfig,
		"--foreign-kubeconfig", tb.Foreign.Kubeconfig, "--namespace", ns, "--node-name", node,
		"--timeout", "90s", "--remove-identity")
	if code != 0 {
		t.Fatalf("unpeer --remove-identity: exit %d", code)
	}
	if _, err := tb.Home.Client.CoreV1().Secrets(ns).Get(ctxFor(t, 20*time.Second), "liqolet-foreign-kubeconfig", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret %s/liqolet-foreign-kubeconfig still there (%v)", ns, err)
	}
}

// Only one admin kubeconfig at a time: --foreign-only writes the foreign kubeconfig and
// prints the home command (with the foreign cluster id); that command, run with the home
// admin kubeconfig, finishes the peering and its check passes.
func TestPeerOneSided(t *testing.T) {
	id := offIdentities(t)
	r := offRand(5)
	ns, node := "lqo-"+r, "liqo-peer-"+r
	peerCleanup(t, ns, node)
	out := filepath.Join(t.TempDir(), "out")
	text, code := runLiqolet(t, 2*time.Minute, "peer", "--foreign-only", "--foreign-kubeconfig", tb.Foreign.Kubeconfig,
		"--namespace", ns, "--node-name", node, "--output-dir", out)
	if code != 0 {
		t.Fatalf("peer --foreign-only: exit %d", code)
	}
	if _, err := tb.Home.Client.CoreV1().Namespaces().Get(ctxFor(t, 20*time.Second), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("home: --foreign-only created namespace %s (%v)", ns, err)
	}
	fkc := filepath.Join(out, "foreign.kubeconfig")
	want := "--home-only --home-kubeconfig HOME-ADMIN.kubeconfig --foreign-cluster-id " + id.foreignID +
		" --agent-foreign-kubeconfig " + fkc
	if !strings.Contains(text, want) {
		t.Fatalf("peer --foreign-only does not print the home command %q", want)
	}
	if who := peerWhoAmI(t, fkc); who != "system:serviceaccount:"+ns+":liqolet" {
		t.Errorf("%s authenticates as %q", fkc, who)
	}
	// the home side without the foreign id is a usage error
	if _, code := runLiqolet(t, time.Minute, "peer", "--home-only", "--home-kubeconfig", tb.Home.Kubeconfig); code != 2 {
		t.Errorf("peer --home-only without --foreign-cluster-id: exit %d, want 2", code)
	}
	// the printed command, with the home admin kubeconfig
	text, code = runLiqolet(t, 3*time.Minute, "peer", "--home-only", "--home-kubeconfig", tb.Home.Kubeconfig,
		"--foreign-cluster-id", id.foreignID, "--agent-foreign-kubeconfig", fkc, "--namespace", ns,
		"--node-name", node, "--output-dir", out)
	if code != 0 || !strings.Contains(text, "check passed") {
		t.Fatalf("peer --home-only: exit %d, check not passed", code)
	}
	if who := peerWhoAmI(t, filepath.Join(out, "home.kubeconfig")); who != "system:serviceaccount:"+ns+":liqolet" {
		t.Errorf("home.kubeconfig authenticates as %q", who)
	}
}
