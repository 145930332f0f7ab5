package e2e

// End-to-end tests of ConfigMap and Secret reflection (issue 12; Liqo v0.8 behaviour §1.1,
// §1.6, §1.7, §2.3, the v0.9.4 per-kind policies; DESIGN.md Decisions 5 and 17).  A home
// namespace is offloaded through a NamespaceOffloading; its ConfigMaps and Secrets must
// appear in the remote namespace under the same name, written by server-side apply with
// field manager reflection.liqo.io, with the home labels plus the ownership labels and the
// home annotations plus liqolet.io/home-uid.  kube-root-ca.crt is reflected renamed and the
// remote pods follow the rename; service-account-token Secrets are not reflected; objects
// the agent does not own are never touched.  kwok fakes kubelets: every assertion is on the
// objects themselves, never on a pod's phase.  The agents use the shared virtual node name,
// so run these alone (`make e2e E2E_RUN='TestConfigMaps|TestSecrets|TestHostileConfig'`).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

const (
	cfgTimeout      = 90 * time.Second // one object reflected (or removed) on a loaded 2-core box
	cfgBigTimeout   = 3 * time.Minute  // large objects
	cfgBurstTimeout = 6 * time.Minute  // 500 objects
	cfgFieldManager = "reflection.liqo.io"
	cfgHomeUID      = "liqolet.io/home-uid"
	cfgSkip         = "liqo.io/skip-reflection"
	cfgAllow        = "liqo.io/allow-reflection"
	cfgRootCA       = "kube-root-ca.crt"
)

// cfgEnv is a home namespace offloaded through a NamespaceOffloading and, once started, the
// agent that offloads it, with its management endpoints on free loopback ports.
type cfgEnv struct {
	l      *Liqolet
	id     offIdentity
	d      dynamic.Interface
	ns     string
	remote string
	coap   string // coap://127.0.0.1:PORT
	http   string // 127.0.0.1:PORT (--http-listen)
}

// cfgPrepare creates and offloads (NamespaceOffloading, DefaultName) a fresh home namespace;
// no agent runs yet, so objects created now are found by the agent's first LIST.
func cfgPrepare(t *testing.T) *cfgEnv {
	t.Helper()
	e := &cfgEnv{id: offIdentities(t), d: offDyn(t)}
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	e.ns = "c-" + offRand(6)
	offForeignCleanup(t, e.id, e.ns)
	offNamespace(t, tb.Home, e.ns)
	offCreateNSOF(t, e.d, e.ns, map[string]interface{}{})
	e.remote = e.id.defaultName(e.ns)
	// The namespace's default ServiceAccount (admission needs it for pods) and the
	// kube-root-ca.crt the home controller-manager publishes. Right after a test that
	// restarted the home API server the controller-manager's controllers wait out their
	// own backoff (its authorizer refused them while the server warmed up): a test-bed
	// wait of up to minutes on a loaded machine, not the agent's.
	Eventually(t, 3*time.Minute, "home ServiceAccount and kube-root-ca.crt in "+e.ns, func(ctx context.Context) (bool, error) {
		if _, err := tb.Home.Client.CoreV1().ServiceAccounts(e.ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, ignoreNotFound(err)
		}
		_, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, cfgRootCA, metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	return e
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// start starts the agent (CoAP and HTTP management on port 0, plus extra) and waits for the
// offloading to be Ready, the remote namespace, the virtual node and the endpoint ports.
func (e *cfgEnv) start(t *testing.T, extra ...string) {
	t.Helper()
	args := append([]string{"--mgmt-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"}, extra...)
	e.l = offStartAgent(t, args...)
	offWaitStatus(t, e.l, e.d, e.ns, e.id.foreignName, "Ready", offReady(e.id, e.remote))
	offWaitRemote(t, e.l, e.id, e.remote, e.ns)
	waitVirtualNode(t, e.l, vnodeAppear, "Ready", vnExistsAndReady)
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(e.l.LogPath)
		c, h := mgCoapRE.FindSubmatch(b), mgHTTPRE.FindSubmatch(b)
		if c != nil && h != nil {
			e.coap = fmt.Sprintf("%s://127.0.0.1:%s", c[1], c[2])
			e.http = "127.0.0.1:" + string(h[1])
			return
		}
		if done, err := e.l.Exited(); done {
			t.Fatalf("liqolet exited (%v) before its endpoints listened:\n%s", err, tail(e.l.LogPath, 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 'mgmt: CoAP/HTTP listening' lines within 60 s:\n%s", tail(e.l.LogPath, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func cfgStart(t *testing.T, extra ...string) *cfgEnv {
	t.Helper()
	e := cfgPrepare(t)
	e.start(t, extra...)
	return e
}

func (e *cfgEnv) alive(t *testing.T) {
	t.Helper()
	if done, err := e.l.Exited(); done {
		t.Fatalf("liqolet exited (%v):\n%s", err, tail(e.l.LogPath, 60))
	}
}

// ---------------------------------------------------------------- comparisons

func cfgRandBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func cfgRandText(n int) string {
	a := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n{}:,\"'\\/é")
	b := cfgRandBytes(n)
	var s strings.Builder
	s.Grow(n + 8)
	for i := 0; s.Len() < n; i++ {
		c := a[int(b[i%n])%len(a)]
		if s.Len()+len(string(c)) > n {
			c = 'x'
		}
		s.WriteRune(c)
	}
	return s.String()
}

func boolv(p *bool) bool { return p != nil && *p }

// cfgMeta complains about remote metadata that does not carry the home labels and
// annotations, the ownership labels, the home uid, and an Apply entry of our field manager.
func cfgMeta(id offIdentity, home, r metav1.ObjectMeta) []string {
	var bad []string
	for k, v := range home.Labels {
		if r.Labels[k] != v {
			bad = append(bad, fmt.Sprintf("label %s=%q, home has %q", k, r.Labels[k], v))
		}
	}
	if r.Labels[offOrigin] != id.homeID || r.Labels[offDestination] != id.foreignID {
		bad = append(bad, fmt.Sprintf("ownership labels origin=%q destination=%q, want %q %q",
			r.Labels[offOrigin], r.Labels[offDestination], id.homeID, id.foreignID))
	}
	for k, v := range home.Annotations {
		if r.Annotations[k] != v {
			bad = append(bad, fmt.Sprintf("annotation %s=%q, home has %q", k, r.Annotations[k], v))
		}
	}
	if r.Annotations[cfgHomeUID] != string(home.UID) {
		bad = append(bad, fmt.Sprintf("annotation %s=%q, want the home uid %s", cfgHomeUID, r.Annotations[cfgHomeUID], home.UID))
	}
	applied := false
	for _, m := range r.ManagedFields {
		if m.Manager == cfgFieldManager && m.Operation == metav1.ManagedFieldsOperationApply {
			applied = true
		}
	}
	if !applied {
		var ms []string
		for _, m := range r.ManagedFields {
			ms = append(ms, m.Manager+"/"+string(m.Operation))
		}
		bad = append(bad, fmt.Sprintf("no server-side apply by %s in managedFields %v", cfgFieldManager, ms))
	}
	return bad
}

func cfgStrMapDiff(what string, home, r map[string]string) []string {
	var bad []string
	if len(home) != len(r) {
		bad = append(bad, fmt.Sprintf("%s has %d keys, home %d", what, len(r), len(home)))
	}
	for k, v := range home {
		rv, ok := r[k]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s[%s] missing", what, k))
		case rv != v:
			bad = append(bad, fmt.Sprintf("%s[%s] differs (%d bytes, home %d)", what, k, len(rv), len(v)))
		}
	}
	return bad
}

func cfgBytesMapDiff(what string, home, r map[string][]byte) []string {
	var bad []string
	if len(home) != len(r) {
		bad = append(bad, fmt.Sprintf("%s has %d keys, home %d", what, len(r), len(home)))
	}
	for k, v := range home {
		rv, ok := r[k]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s[%s] missing", what, k))
		case !bytes.Equal(rv, v):
			bad = append(bad, fmt.Sprintf("%s[%s] differs (%d bytes, home %d)", what, k, len(rv), len(v)))
		}
	}
	return bad
}

// cfgCMDiff lists how remote ConfigMap r falls short of being home's reflection.
func cfgCMDiff(id offIdentity, home, r *corev1.ConfigMap) []string {
	bad := cfgStrMapDiff("data", home.Data, r.Data)
	bad = append(bad, cfgBytesMapDiff("binaryData", home.BinaryData, r.BinaryData)...)
	if boolv(home.Immutable) != boolv(r.Immutable) {
		bad = append(bad, fmt.Sprintf("immutable %v, home %v", boolv(r.Immutable), boolv(home.Immutable)))
	}
	return append(bad, cfgMeta(id, home.ObjectMeta, r.ObjectMeta)...)
}

// cfgSecretDiff lists how remote Secret r falls short of being home's reflection (never
// printing data).
func cfgSecretDiff(id offIdentity, home, r *corev1.Secret) []string {
	bad := cfgBytesMapDiff("data", home.Data, r.Data)
	if home.Type != r.Type {
		bad = append(bad, fmt.Sprintf("type %q, home %q", r.Type, home.Type))
	}
	if boolv(home.Immutable) != boolv(r.Immutable) {
		bad = append(bad, fmt.Sprintf("immutable %v, home %v", boolv(r.Immutable), boolv(home.Immutable)))
	}
	return append(bad, cfgMeta(id, home.ObjectMeta, r.ObjectMeta)...)
}

// ---------------------------------------------------------------- waits

// cfgPoll calls check every 500 ms until it returns "" (done); it fails the test with the
// last complaint after timeout, or at once if the agent exits.
func (e *cfgEnv) poll(t *testing.T, timeout time.Duration, what string, check func(ctx context.Context) (string, error)) {
	t.Helper()
	why := "never checked"
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		e.alive(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		w, err := check(ctx)
		cancel()
		if err == nil && w == "" {
			return
		}
		if err != nil {
			why = "error: " + err.Error()
		} else {
			why = w
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %v: %s", what, timeout, why) // the log's tail follows (StartLiqolet)
}

// waitCM waits until the remote ConfigMap remoteName is the reflection of home ConfigMap
// name as it is now (both are read on every try).
func (e *cfgEnv) waitCM(t *testing.T, name, remoteName string, timeout time.Duration) *corev1.ConfigMap {
	t.Helper()
	var got *corev1.ConfigMap
	e.poll(t, timeout, fmt.Sprintf("ConfigMap %s/%s reflected as %s/%s", e.ns, name, e.remote, remoteName),
		func(ctx context.Context) (string, error) {
			h, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			r, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, remoteName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "no remote ConfigMap", nil
			}
			if err != nil {
				return "", err
			}
			if bad := cfgCMDiff(e.id, h, r); len(bad) > 0 {
				return strings.Join(bad, "; "), nil
			}
			got = r
			return "", nil
		})
	return got
}

func (e *cfgEnv) waitSecret(t *testing.T, name string, timeout time.Duration) *corev1.Secret {
	t.Helper()
	var got *corev1.Secret
	e.poll(t, timeout, fmt.Sprintf("Secret %s/%s reflected to %s", e.ns, name, e.remote),
		func(ctx context.Context) (string, error) {
			h, err := tb.Home.Client.CoreV1().Secrets(e.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			r, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "no remote Secret", nil
			}
			if err != nil {
				return "", err
			}
			if bad := cfgSecretDiff(e.id, h, r); len(bad) > 0 {
				return strings.Join(bad, "; "), nil
			}
			got = r
			return "", nil
		})
	return got
}

// waitGone waits until the remote object kind ("configmaps" or "secrets") name is absent.
func (e *cfgEnv) waitGone(t *testing.T, kind, name string) {
	t.Helper()
	e.poll(t, cfgTimeout, fmt.Sprintf("remote %s %s/%s deleted", kind, e.remote, name), func(ctx context.Context) (string, error) {
		var err error
		var rv string
		if kind == "secrets" {
			var s *corev1.Secret
			if s, err = tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, name, metav1.GetOptions{}); err == nil {
				rv = s.ResourceVersion
			}
		} else {
			var c *corev1.ConfigMap
			if c, err = tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, name, metav1.GetOptions{}); err == nil {
				rv = c.ResourceVersion
			}
		}
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return "still there (resourceVersion " + rv + ")", nil
	})
}

// remoteAbsent adds a complaint when the remote object exists.
func (e *cfgEnv) remoteAbsent(ctx context.Context, kind, name string, bad *complaints) error {
	var err error
	if kind == "secrets" {
		_, err = tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, name, metav1.GetOptions{})
	} else {
		_, err = tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	bad.add("remote %s %s/%s exists; it must not be reflected", kind, e.remote, name)
	return nil
}

// cfgEvents lists the home Events about kind/name in ns.
func cfgEvents(ctx context.Context, ns, kind, name string) ([]corev1.Event, error) {
	l, err := tb.Home.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, ev := range l.Items {
		if ev.InvolvedObject.Kind == kind {
			out = append(out, ev)
		}
	}
	return out, nil
}

// waitEvent waits for an Event of type typ and reason on home object kind/name whose
// message contains msg; it returns it.
func (e *cfgEnv) waitEvent(t *testing.T, kind, name, typ, reason, msg string) corev1.Event {
	t.Helper()
	var got corev1.Event
	e.poll(t, cfgTimeout, fmt.Sprintf("%s Event %s on home %s %s/%s (message containing %q)", typ, reason, kind, e.ns, name, msg),
		func(ctx context.Context) (string, error) {
			evs, err := cfgEvents(ctx, e.ns, kind, name)
			if err != nil {
				return "", err
			}
			var seen []string
			for _, ev := range evs {
				if ev.Type == typ && ev.Reason == reason && strings.Contains(ev.Message, msg) {
					got = ev
					return "", nil
				}
				seen = append(seen, fmt.Sprintf("%s/%s %q", ev.Type, ev.Reason, ev.Message))
			}
			return fmt.Sprintf("events: %v", seen), nil
		})
	return got
}

// ---------------------------------------------------------------- management

func (e *cfgEnv) httpGet(t *testing.T, path string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + e.http + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

var cfgLabelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// cfgMetric sums the samples of family name whose labels include want; found says whether
// any matched.
func cfgMetric(text, name string, want map[string]string) (sum float64, found bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		lbl, val := "", line[len(name):]
		if strings.HasPrefix(val, "{") {
			end := strings.LastIndexByte(val, '}')
			if end < 0 {
				continue
			}
			lbl, val = val[1:end], val[end+1:]
		}
		got := map[string]string{}
		for _, m := range cfgLabelRE.FindAllStringSubmatch(lbl, -1) {
			got[m[1]] = m[2]
		}
		ok := true
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(val)[0], 64)
		if err != nil {
			continue
		}
		sum += f
		found = true
	}
	return
}

// objects returns the /objects/<kind> items of the home namespace (liqoletctl), name ->
// state, and the raw answer.
func (e *cfgEnv) objects(t *testing.T, kind string) (map[string]string, string) {
	t.Helper()
	out, errOut, code := mgCtl(t, "-s", e.coap, "objects", kind, "-n", e.ns, "-o", "json")
	if code != 0 {
		t.Fatalf("liqoletctl objects %s -n %s: exit %d: %s", kind, e.ns, code, errOut)
	}
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			State     string `json:"state"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("/objects/%s is not the expected JSON: %v\n%s", kind, err, out)
	}
	items := map[string]string{}
	for _, it := range list.Items {
		if it.Namespace == e.ns {
			items[it.Name] = it.State
		}
	}
	return items, out
}

// ---------------------------------------------------------------- ConfigMaps

func cfgCM(name string, data map[string]string, bin map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels:      map[string]string{"app": "cfg", "example.com/tier": "backend"},
		Annotations: map[string]string{"example.com/note": "reflect me", "example.com/empty": ""}},
		Data: data, BinaryData: bin}
}

func (e *cfgEnv) patchHomeCM(t *testing.T, name, patch string) {
	t.Helper()
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Patch(ctxFor(t, 20*time.Second), name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch home ConfigMap %s: %v", name, err)
	}
}

func (e *cfgEnv) patchHomeSecret(t *testing.T, name, patch string) {
	t.Helper()
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Patch(ctxFor(t, 20*time.Second), name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch home Secret %s: %v", name, err)
	}
}

// itemCounter is Liqo's reflection item counter for ConfigMaps (or another reflector) of the
// home namespace.
func (e *cfgEnv) itemCounter(t *testing.T, resource string) (float64, bool) {
	return cfgMetric(e.httpGet(t, "/metrics"), "liqo_virtual_kubelet_reflection_item_counter",
		map[string]string{"namespace": e.ns, "reflector_resource": resource})
}

// ConfigMaps from create to delete: one found by the first LIST (immutable) and one created
// while the agent runs (data + binaryData) are reflected with labels, annotations, the home
// uid and the ownership labels, by server-side apply; an update is reflected; remote drift
// and a remote deletion are repaired; skip-reflection ("true" removes the copy, "false"
// does not, removing it brings the copy back); a home delete removes the copy.
// /objects/configmaps names them and Liqo's item counter grows.
func TestConfigMapsLifecycle(t *testing.T) {
	e := cfgPrepare(t)
	ctx := ctxFor(t, 10*time.Minute)
	early := cfgCM("early", map[string]string{"mode": "fixed"}, nil)
	early.Immutable = new(bool)
	*early.Immutable = true
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, early, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	e.waitCM(t, "early", "early", cfgTimeout)

	app := cfgCM("app", map[string]string{"app.properties": "a=1\nb=2\n", "empty": ""},
		map[string][]byte{"blob": {0, 1, 2, 0xff, 0xfe}})
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, app, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := e.waitCM(t, "app", "app", cfgTimeout)

	t.Run("Management", func(t *testing.T) {
		items, raw := e.objects(t, "configmaps")
		for _, n := range []string{"early", "app"} {
			if st, ok := items[n]; !ok || st != "Reflected" {
				t.Errorf("/objects/configmaps?ns=%s does not list %s as Reflected: %s", e.ns, n, raw)
			}
		}
		if v, ok := e.itemCounter(t, "ConfigMap"); !ok || v < 2 {
			t.Errorf("liqo_virtual_kubelet_reflection_item_counter{namespace=%q,reflector_resource=\"ConfigMap\"} = %v (present %v), want >= 2",
				e.ns, v, ok)
		}
	})

	t.Run("Update", func(t *testing.T) {
		before, _ := e.itemCounter(t, "ConfigMap")
		e.patchHomeCM(t, "app", `{"metadata":{"labels":{"version":"2"},"annotations":{"example.com/note":"changed"}},`+
			`"data":{"app.properties":"a=2\n","added":"yes"},"binaryData":{"blob":"AAEC"}}`)
		e.waitCM(t, "app", "app", cfgTimeout)
		e.poll(t, 30*time.Second, "the item counter grows after an update", func(ctx context.Context) (string, error) {
			if v, _ := e.itemCounter(t, "ConfigMap"); v <= before {
				return fmt.Sprintf("item counter %v, was %v before the update", v, before), nil
			}
			return "", nil
		})
	})

	t.Run("RemoteDriftRepaired", func(t *testing.T) {
		r, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Data["app.properties"] = "tampered=1\n"
		delete(r.BinaryData, "blob")
		if _, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitCM(t, "app", "app", cfgTimeout)
	})

	// Drift that adds a key: the copy's data must again be exactly the home data.
	t.Run("RemoteAddedKeyRemoved", func(t *testing.T) {
		r, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Data["intruder"] = "x"
		if _, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitCM(t, "app", "app", cfgTimeout)
	})

	t.Run("RemoteDeletedIsRecreated", func(t *testing.T) {
		if err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		r := e.waitCM(t, "app", "app", cfgTimeout)
		if r.UID == first.UID {
			t.Fatalf("remote ConfigMap has the deleted one's uid %s", r.UID)
		}
	})

	t.Run("SkipReflection", func(t *testing.T) {
		// "false" is not a skip under DenyList: the copy stays (with the annotation).
		e.patchHomeCM(t, "app", `{"metadata":{"annotations":{"`+cfgSkip+`":"false"}}}`)
		e.waitCM(t, "app", "app", cfgTimeout)
		e.patchHomeCM(t, "app", `{"metadata":{"annotations":{"`+cfgSkip+`":"true"}}}`)
		e.waitGone(t, "configmaps", "app")
		hostileHold(t, e.l, 5*time.Second, "while skip-reflection is set", func(ctx context.Context, bad *complaints) error {
			return e.remoteAbsent(ctx, "configmaps", "app", bad)
		})
		e.patchHomeCM(t, "app", `{"metadata":{"annotations":{"`+cfgSkip+`":null}}}`)
		e.waitCM(t, "app", "app", cfgTimeout)
		// Any value but "false" skips, the empty one too.
		e.patchHomeCM(t, "early", `{"metadata":{"annotations":{"`+cfgSkip+`":""}}}`)
		e.waitGone(t, "configmaps", "early")
	})

	t.Run("HomeDeleteRemovesRemote", func(t *testing.T) {
		if err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitGone(t, "configmaps", "app")
		hostileHold(t, e.l, 5*time.Second, "after the home delete", func(ctx context.Context, bad *complaints) error {
			return e.remoteAbsent(ctx, "configmaps", "app", bad)
		})
		items, raw := e.objects(t, "configmaps")
		if _, ok := items["app"]; ok {
			t.Errorf("/objects/configmaps still lists the deleted app: %s", raw)
		}
	})
}

// The home kube-root-ca.crt is reflected as kube-root-ca.crt.<5 chars of the home id> with
// the home cluster's CA; the foreign cluster's own kube-root-ca.crt in the remote namespace
// is untouched; an offloaded pod's kube-api-access-* projection and a plain configMap
// volume naming kube-root-ca.crt point at the renamed copy in the remote pod.
func TestConfigMapsRootCA(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	renamed := cfgRootCA + "." + e.id.homeID[:5]
	homeCA, err := os.ReadFile(filepath.Join(tb.Env["LIQOLET_TESTBED_DIR"], "home", "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	foreignCA, err := os.ReadFile(filepath.Join(tb.Env["LIQOLET_TESTBED_DIR"], "foreign", "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.waitCM(t, cfgRootCA, renamed, cfgTimeout)
	if strings.TrimSpace(r.Data["ca.crt"]) != strings.TrimSpace(string(homeCA)) {
		t.Errorf("remote %s ca.crt is not the home cluster's CA (%d bytes)", renamed, len(r.Data["ca.crt"]))
	}

	t.Run("ForeignRootCAUntouched", func(t *testing.T) {
		var own *corev1.ConfigMap
		Eventually(t, time.Minute, "the foreign controller-manager's "+cfgRootCA+" in "+e.remote, func(ctx context.Context) (bool, error) {
			c, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, cfgRootCA, metav1.GetOptions{})
			own = c
			return err == nil, ignoreNotFound(err)
		})
		hostileHold(t, e.l, 10*time.Second, "the foreign "+cfgRootCA, func(ctx context.Context, bad *complaints) error {
			c, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, cfgRootCA, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c.UID != own.UID || c.ResourceVersion != own.ResourceVersion {
				bad.add("foreign %s changed (uid %s rv %s, was %s %s)", cfgRootCA, c.UID, c.ResourceVersion, own.UID, own.ResourceVersion)
			}
			if strings.TrimSpace(c.Data["ca.crt"]) != strings.TrimSpace(string(foreignCA)) {
				bad.add("foreign %s no longer holds the foreign CA", cfgRootCA)
			}
			if c.Labels[offOrigin] != "" || c.Annotations[cfgHomeUID] != "" {
				bad.add("foreign %s carries our labels/annotations: %v %v", cfgRootCA, c.Labels, c.Annotations)
			}
			return nil
		})
	})

	t.Run("PodVolumesFollowRename", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ca-user"}, Spec: corev1.PodSpec{
			NodeName:    vnodeName,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Volumes: []corev1.Volume{{Name: "ca", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cfgRootCA}}}}},
			Containers: []corev1.Container{{Name: "c", Image: "registry.example/c:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "ca", MountPath: "/etc/ca"}}}},
		}}
		h, err := tb.Home.Client.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		homeProjected := false
		for _, v := range h.Spec.Volumes {
			if strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil && s.ConfigMap.Name == cfgRootCA {
						homeProjected = true
					}
				}
			}
		}
		if !homeProjected {
			t.Fatalf("precondition: the home pod has no kube-api-access-* projection of %s (ServiceAccount admission?): %+v", cfgRootCA, h.Spec.Volumes)
		}
		e.poll(t, podsTimeout, "remote pod ca-user with its kube-root-ca.crt references renamed to "+renamed, func(ctx context.Context) (string, error) {
			rp, err := tb.Foreign.Client.CoreV1().Pods(e.remote).Get(ctx, "ca-user", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "no remote pod", nil
			}
			if err != nil {
				return "", err
			}
			var bad []string
			plain, projected := false, false
			for _, v := range rp.Spec.Volumes {
				if v.ConfigMap != nil {
					switch v.ConfigMap.Name {
					case cfgRootCA:
						bad = append(bad, "volume "+v.Name+" still names "+cfgRootCA)
					case renamed:
						plain = plain || v.Name == "ca"
					}
				}
				if v.Projected != nil {
					for _, s := range v.Projected.Sources {
						if s.ConfigMap == nil {
							continue
						}
						switch s.ConfigMap.Name {
						case cfgRootCA:
							bad = append(bad, "projected volume "+v.Name+" still names "+cfgRootCA)
						case renamed:
							projected = projected || strings.HasPrefix(v.Name, "kube-api-access-")
						}
					}
				}
			}
			if !plain {
				bad = append(bad, "plain configMap volume ca does not name "+renamed)
			}
			if !projected {
				bad = append(bad, "no kube-api-access-* projection names "+renamed)
			}
			if len(bad) > 0 {
				b, _ := json.Marshal(rp.Spec.Volumes)
				return strings.Join(bad, "; ") + "; remote volumes: " + string(b), nil
			}
			return "", nil
		})
	})
}

// A 900 KiB ConfigMap (4 text keys, 4 binary keys) is reflected byte for byte, and so is an
// update that changes every key.
func TestConfigMapsLarge(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 10*time.Minute)
	const each = 900 * 1024 / 8
	mk := func() *corev1.ConfigMap {
		cm := cfgCM("big", map[string]string{}, map[string][]byte{})
		for i := 0; i < 4; i++ {
			cm.Data[fmt.Sprintf("text-%d", i)] = cfgRandText(each)
			cm.BinaryData[fmt.Sprintf("bin-%d.dat", i)] = cfgRandBytes(each)
		}
		return cm
	}
	cm := mk()
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitCM(t, "big", "big", cfgBigTimeout)
	// Once more with other contents (an update of a large object).
	cur, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, "big", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := mk()
	cur.Data, cur.BinaryData = next.Data, next.BinaryData
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitCM(t, "big", "big", cfgBigTimeout)
	// A small neighbour still flows.
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM("small", map[string]string{"k": "v"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitCM(t, "small", "small", cfgTimeout)
}

// 500 ConfigMaps created at once (16 creators) all appear remotely with their data.
func TestConfigMapsBurst(t *testing.T) {
	e := cfgStart(t)
	const n = 500
	if err := cfgCreateBurst(tb.Home.Client, e.ns, n, 64, "burst"); err != nil {
		t.Fatal(err)
	}
	e.poll(t, cfgBurstTimeout, fmt.Sprintf("%d ConfigMaps reflected", n), func(ctx context.Context) (string, error) {
		return cfgBurstMissing(ctx, e.remote, n, 64, "burst", 250)
	})
}

// cfgCreateBurst creates n ConfigMaps <tag>-0000.. labelled bench=<tag>, each with one key
// of size bytes whose value names the object, from 16 goroutines. It may be called from any
// goroutine: it returns the first failure instead of failing the test.
func cfgCreateBurst(cs kubernetes.Interface, ns string, n, size int, tag string) error {
	var wg sync.WaitGroup
	next := make(chan int)
	var mu sync.Mutex
	var errs []string
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := fmt.Sprintf("%s-%04d", tag, i)
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": tag}},
					Data: map[string]string{"v": cfgBurstValue(name, size)}}
				c, cc := context.WithTimeout(context.Background(), 60*time.Second)
				if _, err := cs.CoreV1().ConfigMaps(ns).Create(c, cm, metav1.CreateOptions{}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("create %s: %v", name, err))
					mu.Unlock()
				}
				cc()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d creates failed; first: %s", len(errs), errs[0])
	}
	return nil
}

func cfgBurstValue(name string, size int) string {
	s := strings.Repeat(name+"|", size/(len(name)+1)+1)
	return s[:size]
}

// cfgBurstMissing says what is still missing among the n remote ConfigMaps of the burst
// tag (each with the value cfgCreateBurst gave it, size bytes), listing page objects at a
// time.
func cfgBurstMissing(ctx context.Context, remote string, n, size int, tag string, page int64) (string, error) {
	ok, listed := 0, 0
	var wrong []string
	opts := metav1.ListOptions{LabelSelector: "bench=" + tag, Limit: page}
	for {
		l, err := tb.Foreign.Client.CoreV1().ConfigMaps(remote).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for _, c := range l.Items {
			listed++
			if c.Data["v"] == cfgBurstValue(c.Name, size) {
				ok++
			} else if len(wrong) < 5 {
				wrong = append(wrong, fmt.Sprintf("%s (%d bytes)", c.Name, len(c.Data["v"])))
			}
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if ok == n {
		return "", nil
	}
	return fmt.Sprintf("%d of %d remote ConfigMaps with their data (%d listed; wrong data: %v)", ok, n, listed, wrong), nil
}

// With reflection.configmap.type=AllowList (the v0.x Helm name) and then with
// offloading.reflection.configmap.type=AllowList (the v1 name), only ConfigMaps annotated
// liqo.io/allow-reflection are reflected; Secrets keep the default DenyList.
func TestConfigMapsAllowList(t *testing.T) {
	for _, key := range []string{"reflection.configmap.type", "offloading.reflection.configmap.type"} {
		key := key
		t.Run(key, func(t *testing.T) {
			e := cfgStart(t, "--set", key+"=AllowList")
			ctx := ctxFor(t, 5*time.Minute)
			plain := cfgCM("plain", map[string]string{"k": "v"}, nil)
			allowed := cfgCM("allowed", map[string]string{"k": "v"}, nil)
			allowed.Annotations[cfgAllow] = "true"
			for _, c := range []*corev1.ConfigMap{plain, allowed} {
				if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, c, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "denylisted"}, Data: map[string][]byte{"k": []byte("v")}}
			if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			e.waitCM(t, "allowed", "allowed", cfgTimeout)
			e.waitSecret(t, "denylisted", cfgTimeout)
			hostileHold(t, e.l, 10*time.Second, "AllowList: the unannotated ConfigMap", func(ctx context.Context, bad *complaints) error {
				return e.remoteAbsent(ctx, "configmaps", "plain", bad)
			})
			// Annotating it later reflects it.
			e.patchHomeCM(t, "plain", `{"metadata":{"annotations":{"`+cfgAllow+`":"true"}}}`)
			e.waitCM(t, "plain", "plain", cfgTimeout)
		})
	}
}

// offloading.reflection.configmap.workers=0 (v1 name) switches ConfigMap reflection off
// (kube-root-ca.crt included); Secrets still flow.
func TestConfigMapsWorkersZero(t *testing.T) {
	e := cfgStart(t, "--set", "offloading.reflection.configmap.workers=0")
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM("off", map[string]string{"k": "v"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "on"},
		Data: map[string][]byte{"k": []byte("v")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSecret(t, "on", cfgTimeout)
	renamed := cfgRootCA + "." + e.id.homeID[:5]
	hostileHold(t, e.l, 15*time.Second, "configmap workers=0", func(ctx context.Context, bad *complaints) error {
		if err := e.remoteAbsent(ctx, "configmaps", "off", bad); err != nil {
			return err
		}
		return e.remoteAbsent(ctx, "configmaps", renamed, bad)
	})
}

// A remote ConfigMap of the same name created by someone else (no ownership labels) is
// never touched: the home ConfigMap gets a Warning FailedReflection "already exists", the
// conflict counter counts it, and deleting the home ConfigMap leaves the remote one alone.
func TestConfigMapsUnownedConflict(t *testing.T) {
	e := cfgStart(t)
	cfgConflict(t, e, "configmaps")
}

// cfgConflict runs the unowned-object conflict for kind ("configmaps" or "secrets").
func cfgConflict(t *testing.T, e *cfgEnv, kind string) {
	t.Helper()
	ctx := ctxFor(t, 5*time.Minute)
	const name = "taken"
	evKind, metricKind := "ConfigMap", "ConfigMap"
	var uid types.UID
	var rv string
	if kind == "secrets" {
		evKind, metricKind = "Secret", "Secret"
		s, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"owner": "foreign-user"}}, Data: map[string][]byte{"owner": []byte("foreign")}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uid, rv = s.UID, s.ResourceVersion
		if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
			Data: map[string][]byte{"owner": []byte("home")}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	} else {
		c, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"owner": "foreign-user"}}, Data: map[string]string{"owner": "foreign"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uid, rv = c.UID, c.ResourceVersion
		if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM(name, map[string]string{"owner": "home"}, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	intact := func(ctx context.Context, bad *complaints) error {
		var gotUID types.UID
		var gotRV string
		var err error
		if kind == "secrets" {
			var s *corev1.Secret
			if s, err = tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, name, metav1.GetOptions{}); err == nil {
				gotUID, gotRV = s.UID, s.ResourceVersion
				if string(s.Data["owner"]) != "foreign" || s.Labels[offOrigin] != "" {
					bad.add("the foreign user's Secret %s was changed (labels %v)", name, s.Labels)
				}
			}
		} else {
			var c *corev1.ConfigMap
			if c, err = tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, name, metav1.GetOptions{}); err == nil {
				gotUID, gotRV = c.UID, c.ResourceVersion
				if c.Data["owner"] != "foreign" || c.Labels[offOrigin] != "" {
					bad.add("the foreign user's ConfigMap %s was changed: data %v labels %v", name, c.Data, c.Labels)
				}
			}
		}
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the agent deleted the foreign user's %s %s/%s", kind, e.remote, name)
			return nil
		case err != nil:
			return err
		}
		if gotUID != uid || gotRV != rv {
			bad.add("the foreign user's %s %s was replaced or written (uid %s rv %s, was %s %s)", kind, name, gotUID, gotRV, uid, rv)
		}
		return nil
	}
	e.waitEvent(t, evKind, name, corev1.EventTypeWarning, "FailedReflection", "already exists")
	e.poll(t, 30*time.Second, "liqolet_reflection_conflicts_total{kind=\""+metricKind+"\"} >= 1", func(ctx context.Context) (string, error) {
		v, ok := cfgMetric(e.httpGet(t, "/metrics"), "liqolet_reflection_conflicts_total", map[string]string{"kind": metricKind})
		if !ok || v < 1 {
			return fmt.Sprintf("value %v (present %v)", v, ok), nil
		}
		return "", nil
	})
	hostileHold(t, e.l, hostileWatch, "with the home object present", intact)
	// The home object goes: the remote one is still not ours to delete.
	var err error
	if kind == "secrets" {
		err = tb.Home.Client.CoreV1().Secrets(e.ns).Delete(ctx, name, metav1.DeleteOptions{})
	} else {
		err = tb.Home.Client.CoreV1().ConfigMaps(e.ns).Delete(ctx, name, metav1.DeleteOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	hostileHold(t, e.l, hostileWatch/2, "after the home object was deleted", intact)
}

// Ending offloading (the NamespaceOffloading deleted) removes the remote namespace and with
// it the copies; the home ConfigMap and Secret are untouched.
func TestConfigMapsOffloadingEnds(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	hc, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM("keep", map[string]string{"k": "v"}, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "keep-s"},
		Data: map[string][]byte{"k": []byte("v")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.waitCM(t, "keep", "keep", cfgTimeout)
	e.waitSecret(t, "keep-s", cfgTimeout)
	// Reflection may have recorded events but must not have written the home objects.
	if err := e.d.Resource(nsofGVR).Namespace(e.ns).Delete(ctxFor(t, 20*time.Second), "offloading", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	offWaitRemoteGone(t, e.remote)
	hostileHold(t, e.l, 10*time.Second, "after offloading ended", func(ctx context.Context, bad *complaints) error {
		if _, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, e.remote, metav1.GetOptions{}); err == nil {
			bad.add("remote namespace %s is back", e.remote)
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		l, err := tb.Foreign.Client.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: offOrigin + "=" + e.id.homeID})
		if err != nil {
			return err
		}
		for _, c := range l.Items {
			if c.Annotations[cfgHomeUID] == string(hc.UID) {
				bad.add("a copy of %s/keep remains as %s/%s", e.ns, c.Namespace, c.Name)
			}
		}
		c, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, "keep", metav1.GetOptions{})
		if err != nil {
			bad.add("home ConfigMap keep: %v", err)
		} else if c.UID != hc.UID || c.ResourceVersion != hc.ResourceVersion || c.DeletionTimestamp != nil {
			bad.add("home ConfigMap keep was written (rv %s, was %s)", c.ResourceVersion, hc.ResourceVersion)
		}
		s, err := tb.Home.Client.CoreV1().Secrets(e.ns).Get(ctx, "keep-s", metav1.GetOptions{})
		if err != nil {
			bad.add("home Secret keep-s: %v", err)
		} else if s.UID != hs.UID || s.ResourceVersion != hs.ResourceVersion || s.DeletionTimestamp != nil {
			bad.add("home Secret keep-s was written (rv %s, was %s)", s.ResourceVersion, hs.ResourceVersion)
		}
		return nil
	})
}

// ---------------------------------------------------------------- Secrets

// Secrets from create to delete (Opaque with labels and annotations, an immutable one of
// another type): data, type and immutable reflected; update; drift repaired; skip-reflection
// removes and restores the copy; home delete removes it. A service-account-token Secret is
// not reflected and gets a Normal ReflectionDisabled event. The Secret data (a random
// marker) never appears in the agent's log (debug level), /status, /objects, /metrics or the
// home Events. /objects/secrets names the reflected Secrets.
func TestSecretsLifecycle(t *testing.T) {
	e := cfgStart(t, "--log-level", "debug")
	ctx := ctxFor(t, 10*time.Minute)
	marker := "liqolet-secret-marker-" + offRand(16)
	leakForms := cfgLeakForms(marker)

	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds",
		Labels:      map[string]string{"app": "cfg"},
		Annotations: map[string]string{"example.com/note": "secret"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte(marker), "bin": {0, 0xff, 1}}}
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	im := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-fixed"}, Type: corev1.SecretTypeTLS,
		Immutable: new(bool), Data: map[string][]byte{"tls.crt": []byte("cert " + marker), "tls.key": []byte("key " + marker)}}
	*im.Immutable = true
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, im, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "legacy-token",
		Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}, Type: corev1.SecretTypeServiceAccountToken}
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := e.waitSecret(t, "creds", cfgTimeout)
	e.waitSecret(t, "tls-fixed", cfgTimeout)

	t.Run("ServiceAccountTokenNotReflected", func(t *testing.T) {
		e.waitEvent(t, "Secret", "legacy-token", corev1.EventTypeNormal, "ReflectionDisabled", "")
		hostileHold(t, e.l, 5*time.Second, "the service-account-token Secret", func(ctx context.Context, bad *complaints) error {
			return e.remoteAbsent(ctx, "secrets", "legacy-token", bad)
		})
	})

	t.Run("Management", func(t *testing.T) {
		items, raw := e.objects(t, "secrets")
		for _, n := range []string{"creds", "tls-fixed"} {
			if st, ok := items[n]; !ok || st != "Reflected" {
				t.Errorf("/objects/secrets?ns=%s does not list %s as Reflected: %s", e.ns, n, raw)
			}
		}
		// The agent may list the records it keeps for objects it does not reflect, but
		// never as reflected.
		if st, ok := items["legacy-token"]; ok && st == "Reflected" {
			t.Errorf("/objects/secrets shows the service-account-token Secret as Reflected: %s", raw)
		}
	})

	t.Run("Update", func(t *testing.T) {
		e.patchHomeSecret(t, "creds", `{"metadata":{"labels":{"version":"2"}},"data":{"password":"`+
			base64.StdEncoding.EncodeToString([]byte(marker+"-v2"))+`","added":"eWVz"}}`)
		e.waitSecret(t, "creds", cfgTimeout)
	})

	t.Run("RemoteDriftRepaired", func(t *testing.T) {
		r, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, "creds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Data["password"] = []byte("tampered")
		if _, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		r2 := e.waitSecret(t, "creds", cfgTimeout)
		if r2.UID != first.UID {
			t.Logf("drift repaired by re-creating the remote Secret (uid %s, was %s)", r2.UID, first.UID)
		}
	})

	t.Run("RemoteAddedKeyRemoved", func(t *testing.T) {
		r, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, "creds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Data["intruder"] = []byte("x")
		if _, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitSecret(t, "creds", cfgTimeout)
	})

	t.Run("SkipReflection", func(t *testing.T) {
		e.patchHomeSecret(t, "creds", `{"metadata":{"annotations":{"`+cfgSkip+`":"yes"}}}`)
		e.waitGone(t, "secrets", "creds")
		e.patchHomeSecret(t, "creds", `{"metadata":{"annotations":{"`+cfgSkip+`":null}}}`)
		e.waitSecret(t, "creds", cfgTimeout)
	})

	t.Run("HomeDeleteRemovesRemote", func(t *testing.T) {
		if err := tb.Home.Client.CoreV1().Secrets(e.ns).Delete(ctx, "tls-fixed", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitGone(t, "secrets", "tls-fixed")
	})

	t.Run("DataNeverShown", func(t *testing.T) {
		if v, ok := e.itemCounter(t, "Secret"); !ok || v < 1 {
			t.Errorf("liqo_virtual_kubelet_reflection_item_counter{namespace=%q,reflector_resource=\"Secret\"} = %v (present %v)", e.ns, v, ok)
		}
		outputs := map[string]string{}
		st, errOut, code := mgCtl(t, "-s", e.coap, "status", "-o", "json")
		if code != 0 {
			t.Fatalf("liqoletctl status: exit %d: %s", code, errOut)
		}
		outputs["/status"] = st
		_, outputs["/objects/secrets"] = e.objects(t, "secrets")
		_, outputs["/objects/configmaps"] = e.objects(t, "configmaps")
		all, _, _ := mgCtl(t, "-s", e.coap, "objects", "secrets", "-o", "json")
		outputs["/objects/secrets (all namespaces)"] = all
		outputs["/metrics (HTTP)"] = e.httpGet(t, "/metrics")
		m, _, _ := mgCtl(t, "-s", e.coap, "metrics")
		outputs["/metrics (CoAP)"] = m
		evs, err := tb.Home.Client.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(evs.Items)
		outputs["home Events of "+e.ns] = string(b)
		logb, err := os.ReadFile(e.l.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		outputs["agent log"] = string(logb)
		for where, text := range outputs {
			for _, f := range leakForms {
				if i := strings.Index(text, f); i >= 0 {
					lo, hi := i-120, i+len(f)+40
					if lo < 0 {
						lo = 0
					}
					if hi > len(text) {
						hi = len(text)
					}
					t.Errorf("Secret data appears in the %s: ...%s...", where, text[lo:hi])
				}
			}
		}
		t.Logf("checked %d bytes of agent log (debug level) for the marker", len(logb))
	})
}

// cfgLeakForms returns marker and the base64 runs that any base64 encoding of a value
// containing marker must contain, whatever the marker's offset in the value (one run per
// offset modulo 3).
func cfgLeakForms(marker string) []string {
	forms := []string{marker}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("A", k) + marker))
		from, to := (k+2)/3*4, (k+len(marker))/3*4
		forms = append(forms, enc[from:to])
	}
	return forms
}

// A pod on the virtual node with imagePullSecrets [regcred] (a dockerconfigjson Secret of
// its namespace): the remote pod lists regcred, and Secret regcred exists remotely with the
// same type and data.
func TestSecretsImagePullSecret(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	auth := base64.StdEncoding.EncodeToString([]byte("robot:" + offRand(20)))
	reg := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example":{"auth":"` + auth + `"}}}`)}}
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, reg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "private"}, Spec: corev1.PodSpec{
		NodeName:         vnodeName,
		Tolerations:      []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
		Containers:       []corev1.Container{{Name: "c", Image: "registry.example/private/app:1"}},
	}}
	if _, err := tb.Home.Client.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(t, podsTimeout, "remote pod private listing imagePullSecret regcred", func(ctx context.Context) (string, error) {
		rp, err := tb.Foreign.Client.CoreV1().Pods(e.remote).Get(ctx, "private", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "no remote pod", nil
		}
		if err != nil {
			return "", err
		}
		for _, s := range rp.Spec.ImagePullSecrets {
			if s.Name == "regcred" {
				return "", nil
			}
		}
		return fmt.Sprintf("remote imagePullSecrets %v", rp.Spec.ImagePullSecrets), nil
	})
	r := e.waitSecret(t, "regcred", cfgTimeout)
	if r.Type != corev1.SecretTypeDockerConfigJson {
		t.Errorf("remote regcred type %s", r.Type)
	}
}

// A 700 KiB Secret (4 binary keys) is reflected byte for byte.
func TestSecretsLarge(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "big-secret", Labels: map[string]string{"app": "cfg"}},
		Data: map[string][]byte{}}
	for i := 0; i < 4; i++ {
		s.Data[fmt.Sprintf("key-%d", i)] = cfgRandBytes(700 * 1024 / 4)
	}
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSecret(t, "big-secret", cfgBigTimeout)
}

// reflection.secret.workers=0 (v0.x name) switches Secret reflection off: no remote Secret
// appears; ConfigMaps still flow.
func TestSecretsWorkersZero(t *testing.T) {
	e := cfgStart(t, "--set", "reflection.secret.workers=0")
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "off"},
		Data: map[string][]byte{"k": []byte("v")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM("on", map[string]string{"k": "v"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitCM(t, "on", "on", cfgTimeout)
	hostileHold(t, e.l, 15*time.Second, "secret workers=0", func(ctx context.Context, bad *complaints) error {
		l, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, s := range l.Items {
			if s.Labels[offOrigin] != "" || s.Name == "off" {
				bad.add("remote Secret %s appeared with Secret reflection off", s.Name)
			}
		}
		return nil
	})
}

// The unowned-object conflict for Secrets (see TestConfigMapsUnownedConflict).
func TestSecretsUnownedConflict(t *testing.T) {
	e := cfgStart(t)
	cfgConflict(t, e, "secrets")
}

// ---------------------------------------------------------------- hostile

// A foreign user creates, in the remote namespace, a ConfigMap and a Secret carrying our
// ownership labels (and a made-up home uid) under names no home object has: the agent
// neither deletes nor changes them, while it runs and across a restart (when an agent might
// sweep what looks like its orphans).
func TestHostileConfigForgedOrphan(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	lbl := map[string]string{offOrigin: e.id.homeID, offDestination: e.id.foreignID}
	ann := map[string]string{cfgHomeUID: string(uuid.NewUUID())}
	c, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "orphan-" + offRand(5), Labels: lbl, Annotations: ann}, Data: map[string]string{"planted": "by foreign"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "orphan-" + offRand(5), Labels: lbl, Annotations: ann}, Data: map[string][]byte{"planted": []byte("by foreign")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A home object that does get reflected, so the agent is seen to be working.
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM("real", map[string]string{"k": "v"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitCM(t, "real", "real", cfgTimeout)
	intact := func(ctx context.Context, bad *complaints) error {
		rc, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, c.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the agent deleted the planted ConfigMap %s, which it did not create", c.Name)
		case err != nil:
			return err
		case rc.UID != c.UID || rc.ResourceVersion != c.ResourceVersion || rc.DeletionTimestamp != nil:
			bad.add("the agent changed the planted ConfigMap %s (rv %s, was %s)", c.Name, rc.ResourceVersion, c.ResourceVersion)
		}
		rs, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the agent deleted the planted Secret %s, which it did not create", s.Name)
		case err != nil:
			return err
		case rs.UID != s.UID || rs.ResourceVersion != s.ResourceVersion || rs.DeletionTimestamp != nil:
			bad.add("the agent changed the planted Secret %s (rv %s, was %s)", s.Name, rs.ResourceVersion, s.ResourceVersion)
		}
		return nil
	}
	hostileHold(t, e.l, hostileWatch, "while the agent runs", intact)
	if err := e.l.Stop(); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	e.waitCM(t, "real", "real", cfgTimeout)
	hostileHold(t, e.l, hostileWatch, "after a restart", intact)
}

// A foreign user plants a ConfigMap and a Secret with our ownership labels and a forged
// liqolet.io/home-uid under the names of home objects that are then created (not reflected
// yet): the agent does not adopt them (Warning FailedReflection on the home objects) and
// leaves their data as planted.
func TestHostileConfigForgedHomeUID(t *testing.T) {
	e := cfgStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	lbl := map[string]string{offOrigin: e.id.homeID, offDestination: e.id.foreignID}
	ann := map[string]string{cfgHomeUID: string(uuid.NewUUID())}
	c, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "target", Labels: lbl, Annotations: ann}, Data: map[string]string{"planted": "by foreign"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "target-s", Labels: lbl, Annotations: ann}, Data: map[string][]byte{"planted": []byte("by foreign")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the agent has seen them before the home objects exist
	if _, err := tb.Home.Client.CoreV1().ConfigMaps(e.ns).Create(ctx, cfgCM("target", map[string]string{"k": "home"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "target-s"},
		Data: map[string][]byte{"k": []byte("home")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, "ConfigMap", "target", corev1.EventTypeWarning, "FailedReflection", "")
	e.waitEvent(t, "Secret", "target-s", corev1.EventTypeWarning, "FailedReflection", "")
	hostileHold(t, e.l, hostileWatch, "the planted objects with a forged home uid", func(ctx context.Context, bad *complaints) error {
		rc, err := tb.Foreign.Client.CoreV1().ConfigMaps(e.remote).Get(ctx, "target", metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the agent deleted the planted ConfigMap target")
		case err != nil:
			return err
		case rc.UID != c.UID || rc.ResourceVersion != c.ResourceVersion || rc.Data["planted"] != "by foreign" || rc.Data["k"] != "":
			bad.add("the agent adopted or wrote the planted ConfigMap target: data %v annotations %v (rv %s, was %s)",
				rc.Data, rc.Annotations, rc.ResourceVersion, c.ResourceVersion)
		}
		rs, err := tb.Foreign.Client.CoreV1().Secrets(e.remote).Get(ctx, "target-s", metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the agent deleted the planted Secret target-s")
		case err != nil:
			return err
		case rs.UID != s.UID || rs.ResourceVersion != s.ResourceVersion || string(rs.Data["planted"]) != "by foreign" || rs.Data["k"] != nil:
			bad.add("the agent adopted or wrote the planted Secret target-s (annotations %v, rv %s, was %s)",
				rs.Annotations, rs.ResourceVersion, s.ResourceVersion)
		}
		return nil
	})
}
