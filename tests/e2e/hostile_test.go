package e2e

// End-to-end tests of the trust model (issue 11 item 5, DESIGN.md Decision 17): a foreign
// cluster admin who forges Liqo's ownership labels and annotations, or writes Events that
// name our remote pods, changes nothing at home and makes the agent delete nothing in the
// foreign cluster.  Foreign objects are evidence, never authority: a remote object is the
// agent's only by the UID it created or adopted.  The agents use the shared virtual node
// name, so run these alone (`make e2e E2E_RUN=TestHostile`).

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
)

// How long the agent is given to (wrongly) react to a hostile object: its watches see a
// namespace or Event within a second, a pass acts within a few.
const hostileWatch = 20 * time.Second

// hostileEnv is an agent offloading home namespace ns (through a NamespaceOffloading, so
// its status can be watched) to remote, with a 2-replica Deployment "web" running there.
type hostileEnv struct {
	l      *Liqolet
	id     offIdentity
	d      dynamic.Interface
	ns     string
	remote string
}

func hostileStart(t *testing.T) *hostileEnv {
	t.Helper()
	h := &hostileEnv{id: offIdentities(t), d: offDyn(t)}
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	h.ns = "h-" + offRand(6)
	offForeignCleanup(t, h.id, h.ns)
	offNamespace(t, tb.Home, h.ns)
	offCreateNSOF(t, h.d, h.ns, map[string]interface{}{})
	h.l = offStartAgent(t, "--log-level", "debug") // debug: hostileSawNamespace reads it
	h.remote = h.id.defaultName(h.ns)
	offWaitStatus(t, h.l, h.d, h.ns, h.id.foreignName, "Ready", offReady(h.id, h.remote))
	offWaitRemote(t, h.l, h.id, h.remote, h.ns)
	waitVirtualNode(t, h.l, vnodeAppear, "Ready", vnExistsAndReady)
	ctx := ctxFor(t, time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(h.ns).Create(ctx, podsDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsWaitSync(t, h.l, h.ns, h.remote, "app=web", 2, true, "2 replicas")
	return h
}

// hostileSnap is what must not change while hostile foreign objects come and go.
type hostileSnap struct {
	homePods   map[string]types.UID // name -> uid
	remotePods map[string]types.UID
	remoteUID  types.UID // the remote namespace's
	nsof       offStatus
	label      string // the home namespace's liqo.io/scheduling-enabled
}

func (h *hostileEnv) snap(t *testing.T) hostileSnap {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	s := hostileSnap{homePods: map[string]types.UID{}, remotePods: map[string]types.UID{}}
	hp, err := podsList(ctx, tb.Home, h.ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range hp {
		s.homePods[p.Name] = p.UID
	}
	rp, err := podsList(ctx, tb.Foreign, h.remote, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rp {
		s.remotePods[p.Name] = p.UID
	}
	rn, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, h.remote, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.remoteUID = rn.UID
	if s.nsof, err = offGetStatus(ctx, h.d, h.ns, h.id.foreignName); err != nil {
		t.Fatal(err)
	}
	hn, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, h.ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.label = hn.Labels[offSchedLabel]
	return s
}

// complaints collects what a check found wrong (all of it, not only the first thing).
type complaints []string

func (c *complaints) add(format string, args ...interface{}) {
	*c = append(*c, fmt.Sprintf(format, args...))
}

// check adds to bad what differs from want.
func (h *hostileEnv) check(ctx context.Context, want hostileSnap, bad *complaints) error {
	hp, err := podsList(ctx, tb.Home, h.ns, "app=web")
	if err != nil {
		return err
	}
	if len(hp) != len(want.homePods) {
		bad.add("%d home pods, were %d", len(hp), len(want.homePods))
	}
	for _, p := range hp {
		if want.homePods[p.Name] != p.UID {
			bad.add("home pod %s is new (uid %s)", p.Name, p.UID)
		}
		if p.DeletionTimestamp != nil {
			bad.add("home pod %s is being deleted", p.Name)
		}
		if p.Status.Phase == corev1.PodFailed {
			bad.add("home pod %s is Failed (reason %q)", p.Name, p.Status.Reason)
		}
		if p.Status.Reason == "OffloadingAborted" || p.Status.Reason == "OffloadingBackOff" {
			bad.add("home pod %s has reason %s (phase %s)", p.Name, p.Status.Reason, p.Status.Phase)
		}
	}
	rp, err := podsList(ctx, tb.Foreign, h.remote, "app=web")
	if err != nil {
		return err
	}
	if len(rp) != len(want.remotePods) {
		bad.add("%d remote pods, were %d", len(rp), len(want.remotePods))
	}
	for _, p := range rp {
		if want.remotePods[p.Name] != p.UID {
			bad.add("remote pod %s was replaced (uid %s)", p.Name, p.UID)
		}
		if p.DeletionTimestamp != nil {
			bad.add("remote pod %s is being deleted", p.Name)
		}
	}
	rn, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, h.remote, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		bad.add("remote namespace %s deleted", h.remote)
	case err != nil:
		return err
	case rn.UID != want.remoteUID:
		bad.add("remote namespace %s replaced (uid %s, was %s)", h.remote, rn.UID, want.remoteUID)
	case rn.DeletionTimestamp != nil:
		bad.add("remote namespace %s is being deleted", h.remote)
	}
	st, err := offGetStatus(ctx, h.d, h.ns, h.id.foreignName)
	if err != nil {
		return err
	}
	if st.phase != want.nsof.phase || st.remoteName != want.nsof.remoteName || !reflect.DeepEqual(st.conds, want.nsof.conds) {
		bad.add("NamespaceOffloading of %s changed: %v, was %v", h.ns, st, want.nsof)
	}
	hn, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, h.ns, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if hn.Labels[offSchedLabel] != want.label {
		bad.add("home namespace %s label %s=%q, was %q", h.ns, offSchedLabel, hn.Labels[offSchedLabel], want.label)
	}
	return nil
}

// hostileHold runs cond every 500 ms for d and fails the test with every distinct
// complaint it made (in the order first seen), so one run shows all that went wrong.
func hostileHold(t *testing.T, l *Liqolet, d time.Duration, what string, cond func(ctx context.Context, bad *complaints) error) {
	t.Helper()
	seen := map[string]bool{}
	var all []string
	checks, failedChecks := 0, 0
	start := time.Now()
	for time.Since(start) < d {
		if done, err := l.Exited(); done {
			t.Fatalf("liqolet exited (%v) %s:\n%s", err, what, tail(l.LogPath, 40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var bad complaints
		err := cond(ctx, &bad)
		cancel()
		checks++
		if err != nil {
			failedChecks++
			t.Logf("%s: transient: %v", what, err)
		}
		for _, b := range bad {
			if !seen[b] {
				seen[b] = true
				all = append(all, fmt.Sprintf("[+%.1fs] %s", time.Since(start).Seconds(), b))
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, b := range all {
		t.Errorf("%s: %s", what, b)
	}
	// A hold whose checks mostly could not run has not shown anything.
	if failedChecks*2 > checks {
		t.Errorf("%s: only %d of %d checks over %v could read the clusters", what, checks-failedChecks, checks, d)
	}
}

// hostileNamespace creates, as a foreign admin, namespace name carrying this pair's
// ownership labels and liqo.io/original-name=original; it is deleted when the test ends.
func hostileNamespace(t *testing.T, id offIdentity, name, original string) types.UID {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	n, err := tb.Foreign.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{labelE2E: "true", labelE2ETest: dnsLabel(t.Name(), 63),
			offOrigin: id.homeID, offDestination: id.foreignID, offRemoteID: id.homeID},
		Annotations: map[string]string{offOriginalName: original},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("foreign: create hostile namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return n.UID
}

// hostileNSIntact complains when foreign namespace name (uid) is no longer there as created.
func hostileNSIntact(ctx context.Context, name string, uid types.UID, bad *complaints) error {
	n, err := tb.Foreign.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		bad.add("the agent deleted foreign namespace %s, which it did not create", name)
	case err != nil:
		return err
	case n.UID != uid || n.DeletionTimestamp != nil:
		bad.add("the agent deleted (or is deleting) foreign namespace %s, which it did not create", name)
	}
	return nil
}

// hostileSawNamespace fails the test unless the agent logged (at debug level) that it saw
// foreign namespace name with its labels and left it alone: the control that a hold
// around it watched an agent that had the forged namespace in front of it.
func hostileSawNamespace(t *testing.T, l *Liqolet, name string) {
	t.Helper()
	want := "foreign namespace " + name + " carries our labels but no home namespace asks for it; left alone"
	if !logContains(l.LogPath, want) {
		t.Errorf("the agent never logged %q: did it see the forged namespace at all?\n%s", want, tail(l.LogPath, 30))
	}
}

// A foreign namespace forged to claim offloaded home namespace A (origin/destination
// labels, liqo.io/original-name=A): A's pods keep running remotely untouched, A's remote
// namespace and status stay as they are, and the forged namespace is not deleted (the
// agent deletes nothing it did not create). Deleting it changes nothing either.
func TestHostileForeignNamespaceForgedOriginalName(t *testing.T) {
	h := hostileStart(t)
	want := h.snap(t)
	if want.label != "true" || want.nsof.phase != "Ready" {
		t.Fatalf("before: label %q, NamespaceOffloading %v", want.label, want.nsof)
	}
	evil := "evil-" + offRand(6)
	uid := hostileNamespace(t, h.id, evil, h.ns)
	hostileHold(t, h.l, hostileWatch, "after the forged namespace "+evil+" appeared", func(ctx context.Context, bad *complaints) error {
		if err := h.check(ctx, want, bad); err != nil {
			return err
		}
		return hostileNSIntact(ctx, evil, uid, bad)
	})
	hostileSawNamespace(t, h.l, evil)
	ctx := ctxFor(t, 20*time.Second)
	if err := tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, evil, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	hostileHold(t, h.l, hostileWatch/2, "after the forged namespace "+evil+" was deleted", func(ctx context.Context, bad *complaints) error {
		return h.check(ctx, want, bad)
	})
}

// A foreign namespace forged to claim home namespace B, which is not offloaded and carries
// liqo.io/scheduling-enabled=true set by someone else: the label stays, no remote namespace
// for B is created, and the forged one is not deleted.
func TestHostileForeignNamespaceUnrelatedHome(t *testing.T) {
	h := hostileStart(t)
	want := h.snap(t)
	b := "h-b-" + offRand(5)
	offForeignCleanup(t, h.id, b)
	offNamespace(t, tb.Home, b)
	ctx := ctxFor(t, time.Minute)
	if _, err := tb.Home.Client.CoreV1().Namespaces().Patch(ctx, b, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"`+offSchedLabel+`":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	evil := "evil-" + offRand(6)
	uid := hostileNamespace(t, h.id, evil, b)
	bIntact := func(ctx context.Context, bad *complaints) error {
		n, err := tb.Home.Client.CoreV1().Namespaces().Get(ctx, b, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Labels[offSchedLabel] != "true" {
			bad.add("home namespace %s (not offloaded) lost its %s label: %v", b, offSchedLabel, n.Labels)
		}
		if n.DeletionTimestamp != nil {
			bad.add("home namespace %s is being deleted", b)
		}
		l, err := tb.Foreign.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, f := range l.Items {
			if f.Name != evil && (f.Annotations[offOriginalName] == b || strings.HasPrefix(f.Name, b)) {
				bad.add("a remote namespace %s exists for %s, which is not offloaded", f.Name, b)
			}
		}
		u, err := h.d.Resource(nsofGVR).Namespace(b).Get(ctx, "offloading", metav1.GetOptions{})
		if err == nil {
			bad.add("a NamespaceOffloading appeared in %s: %v", b, u.Object)
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		return h.check(ctx, want, bad)
	}
	hostileHold(t, h.l, hostileWatch, "after the forged namespace "+evil+" claiming "+b+" appeared", func(ctx context.Context, bad *complaints) error {
		if err := bIntact(ctx, bad); err != nil {
			return err
		}
		return hostileNSIntact(ctx, evil, uid, bad)
	})
	hostileSawNamespace(t, h.l, evil)
	if err := tb.Foreign.Client.CoreV1().Namespaces().Delete(ctx, evil, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	hostileHold(t, h.l, hostileWatch/2, "after the forged namespace "+evil+" was deleted", bIntact)
}

// hostileEvent creates a (legacy core/v1) Event in foreign namespace ns about pod
// ions/name with uid, or returns the API server's refusal.
func hostileEvent(ctx context.Context, ns, name, ions, pod string, uid types.UID, reason, msg string) (*corev1.Event, error) {
	now := metav1.Now()
	return tb.Foreign.Client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ions, Name: pod, UID: uid},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "hostile"},
	}, metav1.CreateOptions{})
}

// Foreign Events reach home only from the mapped remote namespace and for the remote pod's
// UID: (a) an Event in another foreign namespace naming our remote pod and (b) one in the
// remote namespace with the right name but a wrong uid never reach home; (c) an Event
// named like an existing home Event N is reflected under a name derived from the remote
// Event's UID, and N is untouched; (d) a huge message arrives bounded and attributed to
// the foreign cluster; (e) a reflected Event later edited at home is not taken back when
// the foreign Event changes (apply without force).
func TestHostileForeignEvent(t *testing.T) {
	h := hostileStart(t)
	ctx := ctxFor(t, 3*time.Minute)
	hp, err := podsList(ctx, tb.Home, h.ns, "app=web")
	if err != nil || len(hp) == 0 {
		t.Fatalf("home pods: %v (%d)", err, len(hp))
	}
	home := hp[0]
	r, err := tb.Foreign.Client.CoreV1().Pods(h.remote).Get(ctx, home.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tag := offRand(6)

	// (a) Another foreign namespace. A legacy Event must sit in its object's namespace, so
	// this one is a new-style Event (eventTime set), which the API server lets point at a
	// pod in another namespace.
	other := "h-other-" + tag
	offNamespace(t, tb.Foreign, other)
	_, err = tb.Foreign.Client.CoreV1().Events(other).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "hostile-a-" + tag},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: h.remote, Name: r.Name, UID: r.UID},
		Reason:         "HostileA", Message: "hostile-a " + tag, Type: corev1.EventTypeWarning,
		EventTime: metav1.NowMicro(), ReportingController: "example.com/hostile", ReportingInstance: "hostile-1",
		Action: "Forge", Source: corev1.EventSource{Component: "hostile"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("(a) foreign Event in %s about %s/%s: %v", other, h.remote, r.Name, err)
	}
	// (b) The remote namespace, the right name, a wrong uid.
	if _, err := hostileEvent(ctx, h.remote, "hostile-b-"+tag, h.remote, r.Name, uuid.NewUUID(), "HostileB", "hostile-b "+tag); err != nil {
		t.Fatalf("(b): %v", err)
	}
	// (c) A home Event N exists; a foreign Event about our pod is named N too.
	n := "hostile-c-" + tag
	orig, err := tb.Home.Client.CoreV1().Events(h.ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: n},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: h.ns, Name: home.Name, UID: home.UID},
		Reason:         "HomeOwned", Message: "written at home " + tag, Type: corev1.EventTypeNormal, Count: 7,
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "home-admin"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := hostileEvent(ctx, h.remote, n, h.remote, r.Name, r.UID, "HostileC", "foreign-c "+tag)
	if err != nil {
		t.Fatalf("(c): %v", err)
	}
	// (d) A huge message (within the agent's watch buffer, so it is not skipped whole).
	huge := "foreign-d " + tag + " " + strings.Repeat("x", 8000)
	ed, err := hostileEvent(ctx, h.remote, "hostile-d-"+tag, h.remote, r.Name, r.UID, "HostileD", huge)
	if err != nil {
		t.Fatalf("(d): %v", err)
	}

	prefix := "[" + h.id.foreignName + "] "
	nameC, nameD := r.Name+"."+string(ec.UID), r.Name+"."+string(ed.UID)
	// Wait for (c) and (d) without failing yet, so every assertion below reports.
	var seen []string
	var gotC, gotD bool
	for deadline := time.Now().Add(podsTimeout); time.Now().Before(deadline) && !(gotC && gotD); time.Sleep(500 * time.Millisecond) {
		if done, err := h.l.Exited(); done {
			t.Fatalf("liqolet exited (%v)", err)
		}
		evs, err := podsEvents(ctx, h.ns, home.Name)
		if err != nil {
			continue
		}
		seen = seen[:0]
		for _, e := range evs {
			seen = append(seen, e.Name+"/"+e.Reason)
			gotC = gotC || e.Name == nameC
			gotD = gotD || e.Name == nameD
		}
	}
	if !gotC {
		t.Errorf("(c) the foreign Event %s/%s about our pod was not reflected as %s within %v", h.remote, n, nameC, podsTimeout)
	}
	if !gotD {
		t.Errorf("(d) the foreign Event with a huge message was not reflected as %s within %v", nameD, podsTimeout)
	}
	time.Sleep(3 * time.Second) // (a) and (b) came first on the same watch; give them time anyway

	evs, err := podsEvents(ctx, h.ns, home.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		switch {
		case strings.Contains(e.Message, "hostile-a "+tag) || e.Reason == "HostileA":
			t.Errorf("(a) an Event from foreign namespace %s reached home as %s: %q", other, e.Name, e.Message)
		case strings.Contains(e.Message, "hostile-b "+tag) || e.Reason == "HostileB":
			t.Errorf("(b) an Event with a wrong involvedObject.uid reached home as %s: %q", e.Name, e.Message)
		case e.Name == nameC:
			if e.Message != prefix+"foreign-c "+tag || e.Reason != "HostileC" || e.InvolvedObject.UID != home.UID {
				t.Errorf("(c) reflected as %q reason %s involvedObject.uid %s; want message %q, reason HostileC, uid %s",
					e.Message, e.Reason, e.InvolvedObject.UID, prefix+"foreign-c "+tag, home.UID)
			}
		case e.Name == nameD:
			if len(e.Message) > 256 || !strings.HasPrefix(e.Message, prefix+"foreign-d "+tag) {
				t.Errorf("(d) huge message reflected as %d bytes starting %.80q; want at most 256 starting %q",
					len(e.Message), e.Message, prefix+"foreign-d "+tag)
			}
		}
	}
	now, err := tb.Home.Client.CoreV1().Events(h.ns).Get(ctx, n, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("(c) home Event %s: %v", n, err)
	}
	if now.ResourceVersion != orig.ResourceVersion || now.Message != orig.Message || now.Count != orig.Count ||
		now.Reason != orig.Reason || now.Source.Component != orig.Source.Component {
		t.Errorf("(c) the home Event %s was overwritten by the foreign Event of the same name: message %q count %d reason %s rv %s (was %q %d %s rv %s)",
			n, now.Message, now.Count, now.Reason, now.ResourceVersion, orig.Message, orig.Count, orig.Reason, orig.ResourceVersion)
	}
	// Nothing deleted in the foreign cluster.
	for _, ev := range []struct{ ns, name string }{{other, "hostile-a-" + tag}, {h.remote, "hostile-b-" + tag}, {h.remote, n}, {h.remote, "hostile-d-" + tag}} {
		if _, err := tb.Foreign.Client.CoreV1().Events(ev.ns).Get(ctx, ev.name, metav1.GetOptions{}); err != nil {
			t.Errorf("foreign Event %s/%s: %v", ev.ns, ev.name, err)
		}
	}
	if r2, err := tb.Foreign.Client.CoreV1().Pods(h.remote).Get(ctx, r.Name, metav1.GetOptions{}); err != nil || r2.UID != r.UID {
		t.Errorf("remote pod %s/%s replaced or gone: %v", h.remote, r.Name, err)
	}

	// (e) Someone at home edits the reflected copy of (c); when the foreign Event changes,
	// the agent's apply (no force) conflicts on the field they now own and is refused: the
	// home edit stays. (An apply with force would take the field back.)
	if gotC {
		hc, err := tb.Home.Client.CoreV1().Events(h.ns).Get(ctx, nameC, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hc.Message = "edited at home " + tag
		if hc, err = tb.Home.Client.CoreV1().Events(h.ns).Update(ctx, hc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		fc, err := tb.Foreign.Client.CoreV1().Events(h.remote).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fc.Message, fc.Count, fc.LastTimestamp = "foreign-c2 "+tag, 2, metav1.Now()
		if _, err := tb.Foreign.Client.CoreV1().Events(h.remote).Update(ctx, fc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The control: (d), changed right after (c) on the same watch and not edited at
		// home, does take the change, so the agent has seen (c)'s change too.
		if gotD {
			fd, err := tb.Foreign.Client.CoreV1().Events(h.remote).Get(ctx, "hostile-d-"+tag, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fd.Message, fd.Count, fd.LastTimestamp = "foreign-d2 "+tag, 2, metav1.Now()
			if _, err := tb.Foreign.Client.CoreV1().Events(h.remote).Update(ctx, fd, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			Eventually(t, podsTimeout, "(e) the change of the foreign Event (d) reflected as "+nameD, func(ctx context.Context) (bool, error) {
				e, err := tb.Home.Client.CoreV1().Events(h.ns).Get(ctx, nameD, metav1.GetOptions{})
				return err == nil && e.Message == prefix+"foreign-d2 "+tag, err
			})
		}
		hostileHold(t, h.l, 8*time.Second, "(e) after the foreign Event changed", func(ctx context.Context, bad *complaints) error {
			e, err := tb.Home.Client.CoreV1().Events(h.ns).Get(ctx, nameC, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if e.Message != "edited at home "+tag || e.ResourceVersion != hc.ResourceVersion {
				bad.add("the home-edited Event %s was overwritten: message %q count %d", nameC, e.Message, e.Count)
			}
			return nil
		})
	}
	t.Logf("events on the home pod: %v", seen)
}
