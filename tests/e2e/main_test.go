package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Testbed describes the two clusters the suite runs against.
type Testbed struct {
	Top     string            // repository root
	Script  string            // tools/testbed
	Env     map[string]string // exports printed by `tools/testbed env`
	Home    *Cluster
	Foreign *Cluster
	started bool // this process started the clusters (and stops them)
}

// Cluster is one control plane with an admin client.
type Cluster struct {
	Name        string
	APIServer   string
	Kubeconfig  string // admin (client certificate, system:masters)
	Config      *rest.Config
	Client      kubernetes.Interface
	PodCIDR     *net.IPNet
	ServiceCIDR *net.IPNet
	Nodes       int // number of kwok nodes created by the test bed

	LiqoletCertKubeconfig  string // client certificate CN=liqolet
	LiqoletTokenKubeconfig string // ServiceAccount liqo/liqolet token

	// kwok's kubelet API (empty/0 with a test bed started before it had one):
	// the port of every kwok node (status.daemonEndpoints), the CRI-format file
	// that is the log of every container, the previous log of containers named
	// "restarted", and the directory exec'd commands run in (as nobody).
	KwokPort             int
	KwokLogsFile         string
	KwokPreviousLogsFile string
	KwokExecDir          string
}

var tb *Testbed

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tb = &Testbed{}
	// A SIGTERM/SIGINT to the test binary must not leave clusters behind.
	// If it arrives while `tools/testbed up` runs, wait for that to end
	// (it records every PID it starts) and then stop what it started.
	setupDone := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v\n", s)
		<-setupDone
		if tb.started {
			fmt.Fprintln(os.Stderr, "e2e: stopping the test bed")
			tb.down()
		}
		os.Exit(1)
	}()

	err := tb.setup()
	close(setupDone)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		if tb.started {
			tb.down()
		}
		return 1
	}
	code := m.Run()
	signal.Stop(sigs)
	if tb.started {
		if os.Getenv("LIQOLET_E2E_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "e2e: LIQOLET_E2E_KEEP set: clusters left running; stop them with %s down\n", tb.Script)
		} else {
			tb.down()
		}
	}
	return code
}

func repoRoot() (string, error) {
	if top := os.Getenv("LIQOLET_TOP"); top != "" {
		return filepath.Abs(top)
	}
	top, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(top, "tools", "testbed")); err != nil {
		return "", fmt.Errorf("cannot find tools/testbed from %s (set LIQOLET_TOP): %w", top, err)
	}
	return top, nil
}

func (t *Testbed) setup() error {
	top, err := repoRoot()
	if err != nil {
		return err
	}
	t.Top = top
	t.Script = filepath.Join(top, "tools", "testbed")
	if err := exec.Command(t.Script, "status").Run(); err == nil {
		fmt.Fprintln(os.Stderr, "e2e: reusing the running test bed (it stays up afterwards)")
	} else {
		fmt.Fprintln(os.Stderr, "e2e: starting the test bed")
		cmd := exec.Command(t.Script, "up")
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		t.started = true
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s up: %w", t.Script, err)
		}
	}
	out, err := exec.Command(t.Script, "env").Output()
	if err != nil {
		return fmt.Errorf("%s env: %w", t.Script, err)
	}
	t.Env = parseExports(out)
	if t.Home, err = t.cluster("home"); err != nil {
		return err
	}
	if t.Foreign, err = t.cluster("foreign"); err != nil {
		return err
	}
	return nil
}

// parseExports reads `export NAME=value` lines (values quoted by bash's
// printf %q, which only escapes with backslashes for the paths we write).
func parseExports(out []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		env[k] = b.String()
	}
	return env
}

func (t *Testbed) cluster(name string) (*Cluster, error) {
	p := strings.ToUpper(name) + "_"
	get := func(k string) (string, error) {
		v := t.Env[p+k]
		if v == "" {
			return "", fmt.Errorf("tools/testbed env does not define %s%s", p, k)
		}
		return v, nil
	}
	c := &Cluster{Name: name}
	var err error
	var s string
	if c.Kubeconfig, err = get("KUBECONFIG"); err != nil {
		return nil, err
	}
	if c.APIServer, err = get("API_SERVER"); err != nil {
		return nil, err
	}
	if c.LiqoletCertKubeconfig, err = get("LIQOLET_CERT_KUBECONFIG"); err != nil {
		return nil, err
	}
	if c.LiqoletTokenKubeconfig, err = get("LIQOLET_TOKEN_KUBECONFIG"); err != nil {
		return nil, err
	}
	if s, err = get("POD_CIDR"); err != nil {
		return nil, err
	}
	if _, c.PodCIDR, err = net.ParseCIDR(s); err != nil {
		return nil, err
	}
	if s, err = get("SERVICE_CIDR"); err != nil {
		return nil, err
	}
	if _, c.ServiceCIDR, err = net.ParseCIDR(s); err != nil {
		return nil, err
	}
	if s, err = get("NODES"); err != nil {
		return nil, err
	}
	if c.Nodes, err = strconv.Atoi(s); err != nil {
		return nil, err
	}
	if s := t.Env[p+"KWOK_PORT"]; s != "" {
		if c.KwokPort, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("%sKWOK_PORT: %w", p, err)
		}
	}
	c.KwokLogsFile = t.Env[p+"KWOK_LOGS_FILE"]
	c.KwokPreviousLogsFile = t.Env[p+"KWOK_PREVIOUS_LOGS_FILE"]
	c.KwokExecDir = t.Env[p+"KWOK_EXEC_DIR"]
	if c.Config, err = restConfig(c.Kubeconfig); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	return c, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 30 * time.Second
	cfg.QPS = 50
	cfg.Burst = 100
	return cfg, nil
}

func (t *Testbed) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.Script, "down")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s down: %v\n", t.Script, err)
	}
}

// Clusters returns both clusters, home first.
func (t *Testbed) Clusters() []*Cluster { return []*Cluster{t.Home, t.Foreign} }

// Testbed runs tools/testbed with args and returns its combined output.
func (t *Testbed) Run(args ...string) (string, error) {
	cmd := exec.Command(t.Script, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
