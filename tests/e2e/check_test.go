package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// runCheck runs `liqolet check` with the given kubeconfigs and returns its output and
// exit status.
func runCheck(t *testing.T, home, foreign string, extra ...string) (string, int) {
	t.Helper()
	bin := BuildLiqolet(t)
	args := append([]string{"check", "--home-kubeconfig", home, "--foreign-kubeconfig", foreign}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running liqolet check: %v", err)
	}
	return string(out), code
}

// editKubeconfig copies a kubeconfig, lets edit change its (only) cluster and user,
// and returns the new file's path.
func editKubeconfig(t *testing.T, src string, edit func(server *string, ca *[]byte, tlsName *string, cert, key *[]byte)) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cl := cfg.Clusters[ctx.Cluster]
	au := cfg.AuthInfos[ctx.AuthInfo]
	// Inline every referenced file so the copy stands alone.
	if cl.CertificateAuthority != "" {
		b, err := os.ReadFile(cl.CertificateAuthority)
		if err != nil {
			t.Fatal(err)
		}
		cl.CertificateAuthorityData, cl.CertificateAuthority = b, ""
	}
	if au.ClientCertificate != "" {
		b, _ := os.ReadFile(au.ClientCertificate)
		au.ClientCertificateData, au.ClientCertificate = b, ""
	}
	if au.ClientKey != "" {
		b, _ := os.ReadFile(au.ClientKey)
		au.ClientKeyData, au.ClientKey = b, ""
	}
	edit(&cl.Server, &cl.CertificateAuthorityData, &cl.TLSServerName, &au.ClientCertificateData, &au.ClientKeyData)
	out := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// signClientCert issues a client certificate for cn from the cluster's own CA, valid
// between notBefore and notAfter, and returns PEM cert and key.
func signClientCert(t *testing.T, cluster, cn string, notBefore, notAfter time.Time) ([]byte, []byte) {
	t.Helper()
	pki := filepath.Join(tb.Env["LIQOLET_TESTBED_DIR"], cluster, "pki")
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(pki, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(caKeyPEM)
	if cb == nil || kb == nil {
		t.Fatal("cannot decode the test bed CA")
	}
	caCert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		if k, err2 := x509.ParsePKCS1PrivateKey(kb.Bytes); err2 == nil {
			caKey = k
		} else {
			t.Fatalf("CA key: %v / %v", err, err2)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestCheckPasses(t *testing.T) {
	h, f := tb.Home, tb.Foreign
	for _, tc := range []struct{ name, home, foreign string }{
		{"certificates", h.LiqoletCertKubeconfig, f.LiqoletCertKubeconfig},
		{"tokens", h.LiqoletTokenKubeconfig, f.LiqoletTokenKubeconfig},
		{"mixed", h.LiqoletCertKubeconfig, f.LiqoletTokenKubeconfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCheck(t, tc.home, tc.foreign)
			if code != 0 {
				t.Fatalf("check exited %d:\n%s", code, out)
			}
			homeID, err := h.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), "kube-system", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			foreignID, err := f.Client.CoreV1().Namespaces().Get(ctxFor(t, 10*time.Second), "kube-system", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, out, "check passed", "v1.36", string(homeID.UID), string(foreignID.UID),
				"server certificate verified", "watch-list")
			if strings.Contains(out, "!") {
				t.Errorf("a passing check reports a problem:\n%s", out)
			}
		})
	}
}

func TestCheckWrongCA(t *testing.T) {
	otherCA, err := os.ReadFile(tb.Env["FOREIGN_CA_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	home := editKubeconfig(t, tb.Home.LiqoletCertKubeconfig, func(_ *string, ca *[]byte, _ *string, _, _ *[]byte) {
		*ca = otherCA
	})
	out, code := runCheck(t, home, tb.Foreign.LiqoletCertKubeconfig)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	mustContain(t, out, "home API server 127.0.0.1:", "unknown authority", "certificate-authority", "check FAILED")
}

func TestCheckWrongServerName(t *testing.T) {
	foreign := editKubeconfig(t, tb.Foreign.LiqoletTokenKubeconfig, func(_ *string, _ *[]byte, name *string, _, _ *[]byte) {
		*name = "api.wrong-name.example"
	})
	out, code := runCheck(t, tb.Home.LiqoletCertKubeconfig, foreign)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	mustContain(t, out, "foreign API server", "api.wrong-name.example", "tls-server-name", "check FAILED")
}

func TestCheckExpiredClientCertificate(t *testing.T) {
	cert, key := signClientCert(t, "home", "liqolet", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	home := editKubeconfig(t, tb.Home.LiqoletCertKubeconfig, func(_ *string, _ *[]byte, _ *string, c, k *[]byte) {
		*c, *k = cert, key
	})
	out, code := runCheck(t, home, tb.Foreign.LiqoletCertKubeconfig)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	mustContain(t, out, "rejected the credentials", "401", "expired", "check FAILED")
}

func TestCheckMissingPermission(t *testing.T) {
	// A valid identity of the foreign cluster that no RBAC rule mentions.
	cert, key := signClientCert(t, "foreign", "liqolet-without-rbac", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	foreign := editKubeconfig(t, tb.Foreign.LiqoletCertKubeconfig, func(_ *string, _ *[]byte, _ *string, c, k *[]byte) {
		*c, *k = cert, key
	})
	out, code := runCheck(t, tb.Home.LiqoletCertKubeconfig, foreign)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	mustContain(t, out, "missing permission: create pods", "missing permission: create namespaces", "check FAILED")
	// The home cluster, with its real identity, is still reported as fine.
	homePart := out[:strings.Index(out, "foreign cluster")]
	if strings.Contains(homePart, "!") {
		t.Errorf("home reports problems although its identity is complete:\n%s", homePart)
	}
}

// insecureKubeconfig copies a kubeconfig with insecure-skip-tls-verify: true and no
// certificate authority, every other file inlined.
func insecureKubeconfig(t *testing.T, src string) string {
	t.Helper()
	p := editKubeconfig(t, src, func(_ *string, ca *[]byte, _ *string, _, _ *[]byte) { *ca = nil })
	cfg, err := clientcmd.LoadFromFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.InsecureSkipTLSVerify = true
		c.CertificateAuthority, c.CertificateAuthorityData = "", nil
	}
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A kubeconfig that turns certificate verification off is refused by run (and reported
// by check) unless --allow-insecure-tls true says the risk is accepted (issue 17,
// finding 7).
func TestInsecureTLSRefusedUnlessAllowed(t *testing.T) {
	k := insecureKubeconfig(t, tb.Foreign.LiqoletTokenKubeconfig)
	out, code := runCheck(t, tb.Home.LiqoletCertKubeconfig, k)
	if code != 1 {
		t.Fatalf("check with an insecure foreign kubeconfig: exit %d, want 1:\n%s", code, out)
	}
	mustContain(t, out, "insecure-skip-tls-verify: true", "--allow-insecure-tls true", "check FAILED")
	out, code = runCheck(t, tb.Home.LiqoletCertKubeconfig, k, "--allow-insecure-tls", "true")
	if code != 0 {
		t.Fatalf("check --allow-insecure-tls true: exit %d, want 0:\n%s", code, out)
	}
	mustContain(t, out, "server certificate NOT verified (insecure-skip-tls-verify)")

	bin := BuildLiqolet(t)
	ctx := ctxFor(t, 30*time.Second)
	run := exec.CommandContext(ctx, bin, "run", "--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
		"--foreign-kubeconfig", k, "--node-name", "liqo-insecure-test", "--node-ip", "127.0.0.1")
	b, err := run.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("run with an insecure foreign kubeconfig: %v, want exit status 1:\n%s", err, b)
	}
	mustContain(t, string(b), "insecure-skip-tls-verify: true", "foreign API server's certificate would not be checked", "--allow-insecure-tls true")
	if _, err := tb.Home.Client.CoreV1().Nodes().Get(ctx, "liqo-insecure-test", metav1.GetOptions{}); err == nil {
		t.Errorf("a refused agent registered its node")
	}
}

// `liqolet version` names the local patches the dependencies were built with; the libcoap
// CVE backports (tools/deps/patches, docs/security.md) must be among them, so a version
// bump that drops them fails here instead of shipping silently.
func TestVersionListsSecurityPatches(t *testing.T) {
	out, err := exec.Command(BuildLiqolet(t), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("liqolet version: %v\n%s", err, out)
	}
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "patches:") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no patches line in:\n%s", out)
	}
	for _, want := range []string{"libcoap-4.3.1-cve-fixes", "mbedtls-3.6.6-arena-lazy"} {
		if !strings.Contains(line, want) {
			t.Errorf("patches line %q lacks %s", line, want)
		}
	}
}
