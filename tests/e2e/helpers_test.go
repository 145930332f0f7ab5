package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Labels put on every namespace a test creates.
const (
	labelE2E     = "liqolet.io/e2e"
	labelE2ETest = "liqolet.io/e2e-test"
)

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

func dnsLabel(s string, max int) string {
	s = nonDNS.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > max {
		s = s[:max]
	}
	return strings.Trim(s, "-")
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond every 250 ms until it returns true, an error, or
// the timeout passes; the test fails with msg in the latter two cases.
func Eventually(t *testing.T, timeout time.Duration, msg string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, timeout, true,
		func(ctx context.Context) (bool, error) {
			ok, err := cond(ctx)
			if err != nil {
				last = err
				return false, nil // keep trying: transient API errors happen
			}
			return ok, nil
		})
	if err != nil {
		if last != nil {
			t.Fatalf("%s: not reached within %v (last error: %v)", msg, timeout, last)
		}
		t.Fatalf("%s: not reached within %v", msg, timeout)
	}
}

// Namespace creates a fresh namespace for the calling test in cluster c and
// deletes it when the test ends (unless LIQOLET_E2E_KEEP is set).  It waits
// for the namespace's default ServiceAccount, without which pods are
// rejected by admission.
func (c *Cluster) Namespace(t *testing.T) string {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "e2e-" + dnsLabel(t.Name(), 40) + "-",
			Labels: map[string]string{
				labelE2E:     "true",
				labelE2ETest: dnsLabel(t.Name(), 63),
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create namespace: %v", c.Name, err)
	}
	name := ns.Name
	t.Cleanup(func() {
		if os.Getenv("LIQOLET_E2E_KEEP") != "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := c.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("%s: delete namespace %s: %v", c.Name, name, err)
		}
	})
	Eventually(t, time.Minute, fmt.Sprintf("%s: ServiceAccount %s/default", c.Name, name),
		func(ctx context.Context) (bool, error) {
			_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		})
	return name
}

// ---------------------------------------------------------------- liqolet

var (
	buildOnce   sync.Once
	buildErr    error
	liqoletPath string
)

// BuildLiqolet builds the agent with `make -C <repo root>` (once per test
// binary) and returns the path of build/host/liqolet. LIQOLET_AGENT_BIN names another
// agent binary instead (the benchmark runs an earlier build side by side with it).
func BuildLiqolet(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("LIQOLET_AGENT_BIN"); p != "" {
			liqoletPath = p
			return
		}
		cmd := exec.Command("make", "-C", tb.Top)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("make -C %s: %v\n%s", tb.Top, err, out)
			return
		}
		p := filepath.Join(tb.Top, "build", "host", "liqolet")
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			buildErr = fmt.Errorf("make succeeded but %s is not an executable (%v)", p, err)
			return
		}
		liqoletPath = p
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return liqoletPath
}

// Liqolet is a running agent process.
type Liqolet struct {
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	waitErr error
}

// loopbackNodeIP adds --node-ip 127.0.0.1 to a `run` command line that names no node IP:
// the test clusters live on loopback, and without the flag the agent reports (and its
// kubelet API listens on) the default route's address (DESIGN.md Decision 10), which the
// tests must not serve on. The tests of that default start the agent with
// StartLiqoletDefaultNodeIP.
func loopbackNodeIP(args []string) []string {
	if len(args) == 0 || args[0] != "run" {
		return args
	}
	for i, a := range args {
		if a == "--node-ip" || strings.HasPrefix(a, "--node-ip=") || (a == "--set" && i+1 < len(args) && strings.HasPrefix(args[i+1], "node.ip=")) {
			return args
		}
	}
	return append(append([]string{}, args...), "--node-ip", "127.0.0.1")
}

// StartLiqolet builds liqolet if needed and starts it with args; its stdout
// and stderr go to a log file.  The test bed's exports (HOME_KUBECONFIG, ...)
// are added to its environment.  It is stopped (SIGTERM, then SIGKILL after
// 15 s) when the test ends; on failure the log's tail is printed.
func StartLiqolet(t *testing.T, args ...string) *Liqolet {
	t.Helper()
	return startLiqolet(t, loopbackNodeIP(args))
}

// StartLiqoletDefaultNodeIP is StartLiqolet without the added --node-ip: the agent picks
// its node address itself. Pass --kubelet-port 0 with it (nothing may listen off loopback).
func StartLiqoletDefaultNodeIP(t *testing.T, args ...string) *Liqolet {
	t.Helper()
	return startLiqolet(t, args)
}

func startLiqolet(t *testing.T, args []string) *Liqolet {
	t.Helper()
	bin := BuildLiqolet(t)
	dir, err := os.MkdirTemp("", "liqolet-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "liqolet.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	vgLog := ""
	if w := strings.Fields(os.Getenv("LIQOLET_AGENT_WRAPPER")); len(w) > 0 {
		// e.g. valgrind (make e2e-valgrind): its report goes to a file of its own, read
		// by checkWrapperLog when the agent has stopped.
		vgLog = filepath.Join(dir, "wrapper.log")
		wargs := append(append(append([]string{}, w[1:]...), "--log-file="+vgLog), bin)
		cmd = exec.Command(w[0], append(wargs, args...)...)
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = os.Environ()
	for k, v := range tb.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	l := &Liqolet{Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		l.waitErr = cmd.Wait()
		logf.Close()
		close(l.done)
	}()
	t.Cleanup(func() {
		if err := l.Stop(); err != nil {
			t.Logf("liqolet stop: %v", err)
		}
		if vgLog != "" {
			checkWrapperLog(t, vgLog)
		}
		if t.Failed() {
			t.Logf("liqolet log (%s):\n%s", logPath, tail(logPath, 80))
		} else {
			os.RemoveAll(dir)
		}
	})
	return l
}

// Exited reports whether the process has ended, and its wait error.
func (l *Liqolet) Exited() (bool, error) {
	select {
	case <-l.done:
		return true, l.waitErr
	default:
		return false, nil
	}
}

// Signal sends sig to the agent's PID.
func (l *Liqolet) Signal(sig os.Signal) error {
	if done, _ := l.Exited(); done {
		return errors.New("liqolet has already exited")
	}
	return l.Cmd.Process.Signal(sig)
}

// Stop sends SIGTERM and waits up to 15 s, then SIGKILL.  It returns the
// process's exit error, if any other than the signal it was sent.
func (l *Liqolet) Stop() error {
	if done, err := l.Exited(); done {
		return err
	}
	_ = l.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.done:
	case <-time.After(15 * time.Second):
		_ = l.Cmd.Process.Kill()
		<-l.done
		return errors.New("liqolet ignored SIGTERM for 15 s; killed")
	}
	var ee *exec.ExitError
	if errors.As(l.waitErr, &ee) && ee.ExitCode() == -1 {
		return nil // ended by our signal
	}
	return l.waitErr
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// ---------------------------------------------------------------- cluster facts

var (
	idsMu               sync.Mutex
	idsHome, idsForeign string
)

// clusterIDs returns the home and foreign cluster ids as the agent derives them when
// none is configured (DESIGN.md Decision 2): each cluster's kube-system namespace UID.
// They never change during a run, so the first answer is kept.
func clusterIDs(ctx context.Context) (home, foreign string, err error) {
	idsMu.Lock()
	defer idsMu.Unlock()
	if idsHome != "" && idsForeign != "" {
		return idsHome, idsForeign, nil
	}
	h, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("home kube-system: %w", err)
	}
	f, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("foreign kube-system: %w", err)
	}
	idsHome, idsForeign = string(h.UID), string(f.UID)
	return idsHome, idsForeign, nil
}

// nodeInternalIP returns the InternalIP the home cluster's Node name reports, or an
// error when the node does not exist or reports none.
func nodeInternalIP(ctx context.Context, name string) (string, error) {
	n, err := tb.Home.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("node %s: %w", name, err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address != "" {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("node %s reports no InternalIP (addresses %v)", name, n.Status.Addresses)
}

var (
	vgErrorsRE = regexp.MustCompile(`ERROR SUMMARY: (\d+) errors`)
	vgLostRE   = regexp.MustCompile(`definitely lost: ([\d,]+) bytes`)
)

// checkWrapperLog fails the test when the valgrind report of an agent run under
// LIQOLET_AGENT_WRAPPER names an error or a definitely lost block, or has no summary at
// all (the agent did not reach its exit under the tool).
func checkWrapperLog(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("wrapper log: %v", err)
		return
	}
	s := string(b)
	m := vgErrorsRE.FindStringSubmatch(s)
	if m == nil {
		t.Errorf("valgrind report %s has no ERROR SUMMARY (the agent did not exit cleanly under it):\n%s", path, s)
		return
	}
	lost := "0"
	if l := vgLostRE.FindStringSubmatch(s); l != nil {
		lost = strings.ReplaceAll(l[1], ",", "")
	}
	if m[1] != "0" || lost != "0" {
		t.Errorf("valgrind: %s errors, %s bytes definitely lost:\n%s", m[1], lost, s)
		return
	}
	t.Logf("valgrind: 0 errors, 0 bytes definitely lost (%s)", path)
}
