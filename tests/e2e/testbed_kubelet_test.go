package e2e

// Sanity tests of the test bed's kubelet API (issue 14 builds on them): each
// kube-apiserver has kubelet client credentials as kubeadm gives them, and kwok
// serves logs and exec for the pods of its fake nodes.  They use the real kubectl
// (`tools/testbed kubectl CLUSTER ...`) as the cluster admin.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// kubectlResult is one finished `tools/testbed kubectl` run.
type kubectlResult struct {
	stdout, stderr string
	code           int // exit status; -1 when killed
}

// kubectl runs `tools/testbed kubectl CLUSTER args...` as the cluster admin, with
// stdin (may be nil), and waits for it (or ctx).
func kubectl(ctx context.Context, c *Cluster, stdin io.Reader, args ...string) (kubectlResult, error) {
	cmd := exec.CommandContext(ctx, tb.Script, append([]string{"kubectl", c.Name}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin = stdin
	cmd.Stdout = &out
	cmd.Stderr = &errb
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	r := kubectlResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		err = nil
	default:
		return r, err
	}
	return r, ctx.Err()
}

// mustKubectl is kubectl that must exit 0.
func mustKubectl(t *testing.T, ctx context.Context, c *Cluster, stdin io.Reader, args ...string) string {
	t.Helper()
	r, err := kubectl(ctx, c, stdin, args...)
	if err != nil || r.code != 0 {
		t.Fatalf("kubectl %s: exit %d, %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, err, r.stdout, r.stderr)
	}
	return r.stdout
}

// criLines returns the text of each line of a CRI-format log file
// ("<RFC3339Nano> stdout F <text>").
func criLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 {
			t.Fatalf("%s: not a CRI log line: %q", path, l)
		}
		lines = append(lines, f[3])
	}
	return lines
}

func outLines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// needKubeletBed skips nothing: it fails with a clear message when the running
// test bed was started by a tools/testbed without the kubelet API.
func needKubeletBed(t *testing.T, c *Cluster) {
	t.Helper()
	if c.KwokPort == 0 || c.KwokLogsFile == "" || c.KwokExecDir == "" {
		t.Fatalf("%s: tools/testbed env has no %s_KWOK_* variables: the running test bed predates kwok's kubelet API; restart it (tools/testbed down; tools/testbed up)",
			c.Name, strings.ToUpper(c.Name))
	}
	kwokAddresses(t, tb.Home)
	kwokAddresses(t, tb.Foreign)
}

// kwokAddresses puts back the addresses kwok gives its nodes (InternalIP 127.0.0.1, the
// node's name as Hostname) on any kwok node of c that lost them: after an API server
// restart (the outage tests), kwok 0.8.0 may rewrite a node's status without them for
// 10-20 minutes, and the API server then cannot reach that node's kubelet API ("no
// preferred addresses found"). A test bed repair, logged.
func kwokAddresses(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	nl, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
	if err != nil {
		t.Fatalf("%s: list kwok nodes: %v", c.Name, err)
	}
	for _, n := range nl.Items {
		if len(n.Status.Addresses) > 0 {
			continue
		}
		t.Logf("test bed repair: %s node %s has no addresses (kwok after an API server restart); InternalIP 127.0.0.1 and Hostname put back", c.Name, n.Name)
		patch := fmt.Sprintf(`{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"},{"type":"Hostname","address":%q}]}}`, n.Name)
		if _, err := c.Client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(patch),
			metav1.PatchOptions{}, "status"); err != nil {
			t.Fatalf("%s: restore the addresses of node %s: %v", c.Name, n.Name, err)
		}
	}
}

// TestTestbedKubeletAPI: in the foreign cluster, a pod on a kwok node; `kubectl logs`
// (all, --tail, --previous, -f) reads kwok's logs file and `kubectl exec` runs a
// command on the host as nobody, through the API server's kubelet client.
func TestTestbedKubeletAPI(t *testing.T) {
	c := tb.Foreign
	needKubeletBed(t, c)
	// The first use of `tools/testbed kubectl` may build kubectl (about a minute).
	if _, err := kubectl(ctxFor(t, 5*time.Minute), c, nil, "version", "--client"); err != nil {
		t.Fatalf("kubectl version --client: %v", err)
	}
	ctx := ctxFor(t, 2*time.Minute)

	ns := c.Namespace(t)
	pods := c.Client.CoreV1().Pods(ns)
	_, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "kubelet-sanity",
			Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "main"},
		},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"type": "kwok"},
			Containers: []corev1.Container{
				{Name: "main", Image: "registry.invalid/liqolet/kubelet:1"},
				// kwok's config gives containers of this name previous logs.
				{Name: "restarted", Image: "registry.invalid/liqolet/kubelet:1"},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	var node string
	Eventually(t, time.Minute, "pod Running on a kwok node", func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, "kubelet-sanity", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return p.Status.Phase == corev1.PodRunning, nil
	})
	pod := "kubelet-sanity"
	t.Logf("pod %s/%s on %s; kwok's kubelet API on 127.0.0.1:%d", ns, pod, node, c.KwokPort)

	t.Run("logs", func(t *testing.T) {
		want := criLines(t, c.KwokLogsFile)
		start := time.Now()
		got := outLines(mustKubectl(t, ctx, c, nil, "logs", "-n", ns, pod))
		t.Logf("kubectl logs: %d lines in %v", len(got), time.Since(start).Round(time.Millisecond))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("kubectl logs:\n%q\nwant the logs file's lines:\n%q", got, want)
		}
		got = outLines(mustKubectl(t, ctx, c, nil, "logs", "-n", ns, pod, "--tail=1"))
		if len(got) != 1 || got[0] != want[len(want)-1] {
			t.Errorf("kubectl logs --tail=1: %q, want [%q]", got, want[len(want)-1])
		}
	})

	t.Run("previous", func(t *testing.T) {
		// The default container has no previous logs file: kwok fails the request
		// (it reads the empty path) and the API server passes on its 400.
		r, err := kubectl(ctx, c, nil, "logs", "-n", ns, pod, "--previous")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("logs --previous: exit %d, stderr %q", r.code, r.stderr)
		if r.code != 1 || !strings.Contains(r.stderr, "BadRequest") || !strings.Contains(r.stderr, "failed to read log file") {
			t.Errorf("logs --previous: exit %d, stderr %q; want exit 1 with BadRequest ... failed to read log file", r.code, r.stderr)
		}
		if c.KwokPreviousLogsFile == "" {
			t.Skip("no KWOK_PREVIOUS_LOGS_FILE")
		}
		want := criLines(t, c.KwokPreviousLogsFile)
		got := outLines(mustKubectl(t, ctx, c, nil, "logs", "-n", ns, pod, "-c", "restarted", "--previous"))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("logs -c restarted --previous: %q, want %q", got, want)
		}
	})

	t.Run("follow", func(t *testing.T) {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(fctx, tb.Script, "kubectl", c.Name, "logs", "-f", "-n", ns, pod)
		cmd.WaitDelay = 2 * time.Second
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 64)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		defer func() {
			cancel()
			_ = cmd.Wait()
		}()
		// await reads lines until one equals want.
		await := func(want string, within time.Duration) {
			t.Helper()
			deadline := time.After(within)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("logs -f ended before %q (stderr %q)", want, stderr.String())
					}
					if l == want {
						return
					}
				case <-deadline:
					t.Fatalf("logs -f: %q not seen within %v (stderr %q)", want, within, stderr.String())
				}
			}
		}
		have := criLines(t, c.KwokLogsFile)
		await(have[len(have)-1], 20*time.Second)
		// Other tests may read the file too: append a line that only this run knows.
		text := fmt.Sprintf("testbed e2e follow %d", time.Now().UnixNano())
		start := time.Now()
		f, err := os.OpenFile(c.KwokLogsFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		await(text, 5*time.Second)
		t.Logf("logs -f: appended line seen after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("exec", func(t *testing.T) {
		start := time.Now()
		out := mustKubectl(t, ctx, c, nil, "exec", "-n", ns, pod, "--", "echo", "hello")
		t.Logf("exec echo: %v", time.Since(start).Round(time.Millisecond))
		if out != "hello\n" {
			t.Errorf("exec -- echo hello: stdout %q, want \"hello\\n\"", out)
		}
		// kwok runs the command on the host, restricted by the test bed's ClusterExec.
		out = mustKubectl(t, ctx, c, nil, "exec", "-n", ns, pod, "--", "sh", "-c", `id -u; id -g; pwd; echo "$HOME"`)
		want := fmt.Sprintf("65534\n65534\n%s\n/nonexistent\n", c.KwokExecDir)
		if out != want {
			t.Errorf("exec identity: %q, want %q (nobody:nogroup in KWOK_EXEC_DIR)", out, want)
		}
		r, err := kubectl(ctx, c, nil, "exec", "-n", ns, pod, "--", "sh", "-c", "echo out; echo err >&2")
		if err != nil || r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Errorf("exec stdout/stderr: exit %d %v, stdout %q, stderr %q; want out/err", r.code, err, r.stdout, r.stderr)
		}
	})

	t.Run("exec-stdin", func(t *testing.T) {
		// A command that ends by itself after reading its input.
		r, err := kubectl(ctx, c, strings.NewReader("ping\n"), "exec", "-i", "-n", ns, pod, "--", "head", "-n", "1")
		if err != nil || r.code != 0 || r.stdout != "ping\n" {
			t.Errorf("exec -i -- head -n 1: exit %d %v, stdout %q, stderr %q; want ping", r.code, err, r.stdout, r.stderr)
		}

		// cat echoes stdin, but kwok v0.8.0 never closes the command's stdin when the
		// client's stdin ends (utils/exec copies into the pipe and does not close it),
		// so `exec -i -- cat` does not end by itself: stop it once the echo is seen.
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, tb.Script, "kubectl", c.Name, "exec", "-i", "-n", ns, pod, "--", "cat")
		cmd.WaitDelay = 2 * time.Second
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		echoed := make(chan string, 1)
		go func() {
			l, _ := bufio.NewReader(stdout).ReadString('\n')
			echoed <- l
			_, _ = io.Copy(io.Discard, stdout)
			done <- cmd.Wait()
		}()
		start := time.Now()
		if _, err := io.WriteString(stdin, "echo me\n"); err != nil {
			t.Fatal(err)
		}
		stdin.Close()
		select {
		case l := <-echoed:
			if l != "echo me\n" {
				t.Errorf("exec -i -- cat: first line %q, want \"echo me\\n\"", l)
			}
			t.Logf("exec -i -- cat: echo after %v", time.Since(start).Round(time.Millisecond))
		case <-time.After(20 * time.Second):
			t.Fatal("exec -i -- cat: no echo within 20 s")
		}
		select {
		case err := <-done:
			t.Logf("exec -i -- cat ended after stdin EOF (%v): kwok now passes EOF on; -i tests may use cat", err)
		case <-time.After(3 * time.Second):
			t.Logf("exec -i -- cat still running 3 s after stdin EOF (kwok v0.8.0 keeps the command's stdin open); stopping it")
			cancel()
			<-done
		}
	})

	t.Run("exec-exit-code", func(t *testing.T) {
		// kwok v0.8.0 wraps the command's exit error (fmt.Errorf("%w")), so the
		// streaming server's ExitError type assertion misses it: the exit status is
		// reported as an internal error and kubectl exits 1, not 3.  A kubelet (and
		// liqolet) reports NonZeroExitCode and kubectl exits 3.
		r, err := kubectl(ctx, c, nil, "exec", "-n", ns, pod, "--", "sh", "-c", "exit 3")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("exec -- sh -c 'exit 3': exit %d, stderr %q", r.code, r.stderr)
		if r.code != 1 || !strings.Contains(r.stderr, "Internal error occurred") || !strings.Contains(r.stderr, "exit status 3") {
			t.Errorf("exec exit 3: kubectl exit %d, stderr %q; want exit 1 and an internal error naming \"exit status 3\" (kwok v0.8.0)",
				r.code, r.stderr)
		}
	})
}

// TestTestbedKubeletClient: each API server calls a node's kubelet API at the node's
// InternalIP (even when a Hostname address comes first) and daemonEndpoints port, with
// the client certificate CN=kube-apiserver-kubelet-client signed by the cluster's CA,
// and RBAC lets that user use the kubelet API (system:kubelet-api-admin): what
// liqolet's kubelet API checks.  A TLS server in this test plays the kubelet.
func TestTestbedKubeletClient(t *testing.T) {
	for _, c := range tb.Clusters() {
		t.Run(c.Name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			for _, verb := range []string{"get", "create"} {
				sar, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
					Spec: authzv1.SubjectAccessReviewSpec{
						User: "kube-apiserver-kubelet-client",
						ResourceAttributes: &authzv1.ResourceAttributes{
							Verb: verb, Version: "v1", Resource: "nodes", Subresource: "proxy", Name: "any-node",
						},
					},
				}, metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("SubjectAccessReview: %v", err)
				}
				if !sar.Status.Allowed {
					t.Errorf("kube-apiserver-kubelet-client may not %s nodes/proxy: %+v", verb, sar.Status)
				}
			}

			ca, err := os.ReadFile(c.Config.TLSClientConfig.CAFile)
			if len(c.Config.TLSClientConfig.CAData) > 0 {
				ca, err = c.Config.TLSClientConfig.CAData, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(ca) {
				t.Fatal("cannot parse the cluster CA")
			}
			peer := make(chan *x509.Certificate, 4)
			port := fakeKubelet(t, peer)

			// A node with no kubelet but this test's, tainted so nothing else lands there.
			name := "kubelet-probe-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
			nodes := c.Client.CoreV1().Nodes()
			_, err = nodes.Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"liqolet.io/e2e": "true"}},
				Spec: corev1.NodeSpec{Taints: []corev1.Taint{{
					Key: "liqolet.io/e2e-probe", Effect: corev1.TaintEffectNoSchedule,
				}}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create node: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := nodes.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("delete node %s: %v", name, err)
				}
			})
			// A merge patch: the controller manager updates the new node (podCIDR) too.
			status := fmt.Sprintf(`{"status":{"addresses":[{"type":"Hostname","address":%q},{"type":"InternalIP","address":"127.0.0.1"}],`+
				`"daemonEndpoints":{"kubeletEndpoint":{"Port":%d}}}}`, name+".invalid", port)
			if _, err := nodes.Patch(ctx, name, types.MergePatchType, []byte(status), metav1.PatchOptions{}, "status"); err != nil {
				t.Fatalf("node status: %v", err)
			}

			ns := c.Namespace(t)
			pods := c.Client.CoreV1().Pods(ns)
			if _, err := pods.Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "probe"},
				Spec: corev1.PodSpec{
					NodeName:    name,
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers:  []corev1.Container{{Name: "main", Image: "registry.invalid/liqolet/probe:1"}},
				},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create pod: %v", err)
			}
			t.Cleanup(func() {
				// No kubelet will confirm a graceful deletion.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				zero := int64(0)
				_ = pods.Delete(ctx, "probe", metav1.DeleteOptions{GracePeriodSeconds: &zero})
			})

			// Through the API server's pods/log (client-go: no kubectl needed here).
			b, err := pods.GetLogs("probe", &corev1.PodLogOptions{Container: "main"}).DoRaw(ctx)
			if err != nil {
				t.Fatalf("pods/log through the fake kubelet: %v", err)
			}
			if string(b) != "probe ok\n" {
				t.Errorf("pods/log: %q, want the fake kubelet's \"probe ok\\n\"", b)
			}
			var cert *x509.Certificate
			select {
			case cert = <-peer:
			default:
				t.Fatal("the API server presented no client certificate")
			}
			t.Logf("%s: API server called 127.0.0.1:%d as %q (issuer %q)", c.Name, port, cert.Subject.String(), cert.Issuer.String())
			if cert.Subject.CommonName != "kube-apiserver-kubelet-client" || len(cert.Subject.Organization) != 0 {
				t.Errorf("client certificate subject %q, want CN=kube-apiserver-kubelet-client and no group", cert.Subject.String())
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client certificate not signed by the cluster's CA: %v", err)
			}
		})
	}
}

// fakeKubelet serves HTTPS on 127.0.0.1 with a throw-away self-signed certificate (the
// API servers do not verify kubelets), asks for a client certificate, sends each one it
// gets to peer, and answers every request "probe ok".  It returns the port.
func fakeKubelet(t *testing.T, peer chan<- *x509.Certificate) int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake-kubelet"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		ClientAuth:   tls.RequestClientCert,
		NextProtos:   []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				select {
				case peer <- r.TLS.PeerCertificates[0]:
				default:
				}
			}
			_, _ = io.WriteString(w, "probe ok\n")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
