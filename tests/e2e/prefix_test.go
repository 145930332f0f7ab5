package e2e

// A kubeconfig whose server URL has a path, as Rancher writes them
// (https://rancher.example/k8s/clusters/c-1): every request liqolet makes, buffered
// or streamed (watches, the capacity scan's LISTs, `liqolet check`), must go under
// that path.  The test puts a path-prefixing HTTPS reverse proxy, run inside the test
// process on 127.0.0.1 with its own CA, in front of the real foreign kube-apiserver.
// The proxy strips the prefix, passes the client's bearer token through, streams
// responses as they come (watches), and answers 404 to any path outside the prefix,
// as Rancher does.  Run alone with `make e2e E2E_RUN=TestPathPrefix`.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

const proxyPrefix = "/k8s/clusters/c-1"

// prefixProxy serves one API server under proxyPrefix.
type prefixProxy struct {
	URL   string // https://127.0.0.1:PORT/k8s/clusters/c-1
	CAPEM []byte // the proxy's own CA

	mu       sync.Mutex
	served   []string // "GET /api/v1/nodes?limit=500" (path after the prefix)
	rejected []string // requests outside the prefix (answered 404)
	badHead  []string // served requests without a bearer token or liqolet's User-Agent
}

// startPrefixProxy starts the proxy in front of cluster c (stopped when the test ends).
func startPrefixProxy(t *testing.T, c *Cluster) *prefixProxy {
	t.Helper()
	upstream, err := url.Parse(c.APIServer)
	if err != nil {
		t.Fatal(err)
	}
	upstreamCA, err := os.ReadFile(filepath.Join(tb.Env["LIQOLET_TESTBED_DIR"], c.Name, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(upstreamCA) {
		t.Fatalf("no certificate in the %s CA file", c.Name)
	}
	caPEM, serverCert := proxyPKI(t)
	p := &prefixProxy{CAPEM: caPEM}

	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, proxyPrefix)
			r.Out.URL.RawPath = ""
			r.Out.Host = upstream.Host
			// Authorization (the agent's own bearer token) passes through untouched.
		},
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots},
			MaxIdleConnsPerHost: 16,
		},
		FlushInterval: -1, // every write at once: watches stream
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, proxyPrefix)
		line := r.Method + " " + r.URL.RequestURI()
		if !ok || !strings.HasPrefix(rest, "/") {
			p.mu.Lock()
			p.rejected = append(p.rejected, line)
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"%s is not under %s","reason":"NotFound","code":404}`,
				r.URL.Path, proxyPrefix)
			return
		}
		served := r.Method + " " + strings.TrimPrefix(r.URL.RequestURI(), proxyPrefix)
		p.mu.Lock()
		p.served = append(p.served, served)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") ||
			!strings.HasPrefix(r.Header.Get("User-Agent"), "liqolet/") {
			p.badHead = append(p.badHead, fmt.Sprintf("%s (Authorization %q..., User-Agent %q)", served,
				first(r.Header.Get("Authorization"), 7), r.Header.Get("User-Agent")))
		}
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: handler,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			NextProtos:   []string{"http/1.1"},
		},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	p.URL = "https://" + ln.Addr().String() + proxyPrefix
	return p
}

func first(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// proxyPKI makes a CA and a server certificate for 127.0.0.1 signed by it.
func proxyPKI(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "liqolet-e2e prefix proxy CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// kubeconfig writes a copy of the liqolet token kubeconfig of the proxied cluster
// whose server is the proxy URL (with the prefix) and whose CA is the proxy's.
func (p *prefixProxy) kubeconfig(t *testing.T, src string) string {
	t.Helper()
	return editKubeconfig(t, src, func(server *string, ca *[]byte, tlsName *string, _, _ *[]byte) {
		*server, *ca, *tlsName = p.URL, p.CAPEM, ""
	})
}

func (p *prefixProxy) snapshot() (served, rejected, badHead []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.served...), append([]string(nil), p.rejected...),
		append([]string(nil), p.badHead...)
}

// servedMatching reports whether a request whose line starts with prefix and
// contains every one of parts went through the proxy.
func (p *prefixProxy) servedMatching(prefix string, parts ...string) bool {
	served, _, _ := p.snapshot()
next:
	for _, s := range served {
		if !strings.HasPrefix(s, prefix) {
			continue
		}
		for _, part := range parts {
			if !strings.Contains(s, part) {
				continue next
			}
		}
		return true
	}
	return false
}

func (p *prefixProxy) requireServed(t *testing.T, prefix string, parts ...string) {
	t.Helper()
	if !p.servedMatching(prefix, parts...) {
		served, rejected, _ := p.snapshot()
		t.Errorf("no request %q with %q went through the prefix; served:\n  %s\nrejected:\n  %s", prefix, parts,
			strings.Join(served, "\n  "), strings.Join(rejected, "\n  "))
	}
}

// requireClean fails when a request missed the prefix (except those allowed), or
// went without a bearer token or liqolet's User-Agent.
func (p *prefixProxy) requireClean(t *testing.T, allowed func(line string) bool) {
	t.Helper()
	served, rejected, badHead := p.snapshot()
	var bad, tolerated []string
	for _, r := range rejected {
		if allowed == nil || !allowed(r) {
			bad = append(bad, r)
		} else {
			tolerated = append(tolerated, r)
		}
	}
	t.Logf("%d requests went through the prefix; %d without it were tolerated", len(served), len(tolerated))
	if len(tolerated) > 0 {
		t.Logf("tolerated (src/reflect watches still on .bearer):\n  %s", strings.Join(tolerated, "\n  "))
	}
	if len(bad) > 0 {
		t.Errorf("requests without the server's path prefix %s (answered 404):\n  %s", proxyPrefix, strings.Join(bad, "\n  "))
	}
	if len(badHead) > 0 {
		t.Errorf("requests without a bearer token or liqolet's User-Agent:\n  %s", strings.Join(badHead, "\n  "))
	}
}

func TestPathPrefix(t *testing.T) {
	f := tb.Foreign

	t.Run("check", func(t *testing.T) {
		p := startPrefixProxy(t, f)
		kc := p.kubeconfig(t, f.LiqoletTokenKubeconfig)
		out, code := runCheck(t, tb.Home.LiqoletCertKubeconfig, kc)
		if code != 0 {
			t.Fatalf("check through %s exited %d:\n%s", p.URL, code, out)
		}
		mustContain(t, out, "check passed", p.URL, "server certificate verified", "watch-list")
		p.requireServed(t, "GET /version")
		p.requireServed(t, "GET /api/v1/namespaces/kube-system")
		p.requireServed(t, "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
		p.requireServed(t, "GET /api/v1/namespaces?watch=1", "sendInitialEvents=true")
		p.requireClean(t, nil)
	})

	for _, mode := range []struct {
		name  string
		extra []string
		want  []string // parts of the request that must have gone through the prefix
	}{
		{"watch-list", nil, []string{"watch=1", "sendInitialEvents=true"}},
		{"list-then-watch", []string{"--no-watch-list"}, []string{"limit=500"}},
	} {
		t.Run("debug-watch-"+mode.name, func(t *testing.T) {
			p := startPrefixProxy(t, f)
			kc := p.kubeconfig(t, f.LiqoletTokenKubeconfig)
			ns := f.Namespace(t)
			createCM(t, f, ns, "before")
			path := "/api/v1/namespaces/" + ns + "/configmaps"
			w := startWatcher(t, kc, path, mode.extra...)
			waitState(t, w, f, ns, 30*time.Second)
			// events that arrive on the open watch stream, through the proxy
			createCM(t, f, ns, "while-watching")
			waitState(t, w, f, ns, 30*time.Second)
			p.requireServed(t, "GET "+path+"?", mode.want...)
			p.requireServed(t, "GET "+path+"?", "watch=1", "allowWatchBookmarks=true")
			p.requireClean(t, nil)
		})
	}

	t.Run("run-virtual-node", func(t *testing.T) {
		p := startPrefixProxy(t, f)
		kc := p.kubeconfig(t, f.LiqoletTokenKubeconfig)
		deleteVirtualNode(t, true)
		t.Cleanup(func() { deleteVirtualNode(t, false) })
		l := StartLiqolet(t, "run",
			"--home-kubeconfig", tb.Home.LiqoletCertKubeconfig,
			"--foreign-kubeconfig", kc,
			"--node-name", vnodeName)
		n := waitVirtualNode(t, l, 60*time.Second, "virtual node Ready through the prefix", func(n *corev1.Node) string {
			if why := vnExistsAndReady(n); why != "" {
				return why
			}
			if q, ok := n.Status.Allocatable[corev1.ResourceCPU]; !ok || q.Cmp(resource.MustParse("0")) <= 0 {
				return "no cpu offered (the capacity scan did not go through)"
			}
			return ""
		})
		// the capacity scan's LISTs, and the watch of foreign Nodes
		p.requireServed(t, "GET /api/v1/nodes?", "limit=500")
		p.requireServed(t, "GET /api/v1/pods?", "limit=500", "fieldSelector=status.phase%3DRunning")
		Eventually(t, 30*time.Second, "a watch of the foreign Nodes through the prefix", func(_ context.Context) (bool, error) {
			return p.servedMatching("GET /api/v1/nodes?", "watch=1"), nil
		})
		// buffered requests (cluster identity, health ping)
		p.requireServed(t, "GET /api/v1/namespaces/kube-system")
		p.requireClean(t, nil)
		t.Logf("node %s Ready through %s with allocatable %s", vnodeName, p.URL, vnFmtResources(n.Status.Allocatable))
	})
}
