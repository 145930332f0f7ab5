package e2e

// End-to-end tests of Service, Ingress and EndpointSlice reflection (issue 13; Liqo v0.8
// behaviour §1.4, §1.5, §1.9).  A home namespace is offloaded through a NamespaceOffloading
// (as config_test.go does); its Services, Ingresses and EndpointSlices must appear in the
// remote namespace under the same name, written by server-side apply with field manager
// reflection.liqo.io, with the home labels plus the ownership labels and the home
// annotations plus liqolet.io/home-uid.  Reflected EndpointSlices carry
// endpointslice.kubernetes.io/managed-by=endpointslice.reflection.liqolet.io so the foreign
// EndpointSlice controller leaves them alone; endpoints on the virtual node are dropped.
// kwok fakes kubelets: every assertion is on the objects themselves, never on a pod's phase.
// The agents use the shared virtual node name, so run these alone
// (`make e2e E2E_RUN='TestServices|TestEndpointSlices|TestIngresses|TestHostileExposition'`).

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	expManagedBy       = "endpointslice.kubernetes.io/managed-by"
	expOurManager      = "endpointslice.reflection.liqolet.io"
	expServiceName     = "kubernetes.io/service-name"
	expForceNodePort   = "liqo.io/force-remote-node-port"
	expIngressClassAnn = "kubernetes.io/ingress.class"
)

// expStart offloads a fresh namespace, starts the agent with extra flags and waits for the
// remote namespace's default ServiceAccount (foreign admission needs it for pods).
func expStart(t *testing.T, extra ...string) *cfgEnv {
	t.Helper()
	e := cfgStart(t, extra...)
	Eventually(t, 2*time.Minute, "default ServiceAccount of the remote namespace "+e.remote,
		func(ctx context.Context) (bool, error) {
			_, err := tb.Foreign.Client.CoreV1().ServiceAccounts(e.remote).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, ignoreNotFound(err)
		})
	return e
}

// expService is a ClusterIP Service selecting app=app with two named ports.
func expService(name, app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels:      map[string]string{"app": app, "example.com/tier": "front"},
			Annotations: map[string]string{"example.com/note": "reflect me"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
				{Name: "dns", Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolUDP},
			},
		},
	}
}

// expHomeDeployment is a Deployment whose pods stay on the home kwok nodes.
func expHomeDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: int32p(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"type": "kwok", "liqolet.io/testbed-cluster": "home"},
					Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
						Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: mustQuantity("10m"), corev1.ResourceMemory: mustQuantity("16Mi")}}}},
				},
			},
		},
	}
}

func expPortsDiff(home, r []corev1.ServicePort) []string {
	if len(home) != len(r) {
		return []string{fmt.Sprintf("%d ports, home %d", len(r), len(home))}
	}
	var bad []string
	for i := range home {
		h, p := home[i], r[i]
		if h.Name != p.Name || h.Port != p.Port || h.TargetPort != p.TargetPort || h.Protocol != p.Protocol {
			bad = append(bad, fmt.Sprintf("port %d is %s/%d->%s/%s, home %s/%d->%s/%s", i,
				p.Name, p.Port, p.TargetPort.String(), p.Protocol, h.Name, h.Port, h.TargetPort.String(), h.Protocol))
		}
	}
	return bad
}

// expSvcDiff lists how remote Service r falls short of being home's reflection (ports,
// selector, type, clusterIP only when headless, nodePorts not copied unless forced).
func expSvcDiff(e *cfgEnv, home, r *corev1.Service) []string {
	bad := expPortsDiff(home.Spec.Ports, r.Spec.Ports)
	bad = append(bad, cfgStrMapDiff("selector", home.Spec.Selector, r.Spec.Selector)...)
	if home.Spec.Type != r.Spec.Type {
		bad = append(bad, fmt.Sprintf("type %q, home %q", r.Spec.Type, home.Spec.Type))
	}
	if home.Spec.ClusterIP == corev1.ClusterIPNone {
		if r.Spec.ClusterIP != corev1.ClusterIPNone {
			bad = append(bad, fmt.Sprintf("headless at home, remote clusterIP %q", r.Spec.ClusterIP))
		}
	} else if ip := net.ParseIP(r.Spec.ClusterIP); ip == nil || !tb.Foreign.ServiceCIDR.Contains(ip) {
		bad = append(bad, fmt.Sprintf("remote clusterIP %q not allocated from the foreign range %v (home %q)",
			r.Spec.ClusterIP, tb.Foreign.ServiceCIDR, home.Spec.ClusterIP))
	}
	return append(bad, cfgMeta(e.id, home.ObjectMeta, r.ObjectMeta)...)
}

// waitSvc waits until the remote Service name is the reflection of the home one as it is
// now, and extra (if any) has no complaint about the pair.
func (e *cfgEnv) waitSvc(t *testing.T, name string, extra func(h, r *corev1.Service) []string) *corev1.Service {
	t.Helper()
	var got *corev1.Service
	e.poll(t, cfgTimeout, fmt.Sprintf("Service %s/%s reflected to %s", e.ns, name, e.remote),
		func(ctx context.Context) (string, error) {
			h, err := tb.Home.Client.CoreV1().Services(e.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			r, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "no remote Service", nil
			}
			if err != nil {
				return "", err
			}
			bad := expSvcDiff(e, h, r)
			if extra != nil {
				bad = append(bad, extra(h, r)...)
			}
			if len(bad) > 0 {
				return strings.Join(bad, "; "), nil
			}
			got = r
			return "", nil
		})
	return got
}

func (e *cfgEnv) homeSlices(ctx context.Context, svc string) ([]discoveryv1.EndpointSlice, error) {
	l, err := tb.Home.Client.DiscoveryV1().EndpointSlices(e.ns).List(ctx, metav1.ListOptions{LabelSelector: expServiceName + "=" + svc})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

// remoteSlices lists the remote EndpointSlices of svc carrying our managed-by (ours=true),
// or all of them (ours=false).
func (e *cfgEnv) remoteSlices(ctx context.Context, svc string, ours bool) ([]discoveryv1.EndpointSlice, error) {
	sel := expServiceName + "=" + svc
	if svc == "" {
		sel = ""
	}
	if ours {
		if sel != "" {
			sel += ","
		}
		sel += expManagedBy + "=" + expOurManager
	}
	l, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

func expAddrs(s discoveryv1.EndpointSlice) []string {
	var a []string
	for _, ep := range s.Endpoints {
		a = append(a, ep.Addresses...)
	}
	sort.Strings(a)
	return a
}

// expSliceDiff lists how remote slice r falls short of being home slice h's reflection:
// our managed-by, same addressType and ports, the endpoints not on the virtual node with
// their addresses as they are, nodeName = the home cluster name, only `ready` kept,
// targetRef kind prefixed Remote; metadata as for every reflected kind.
func expSliceDiff(e *cfgEnv, h, r *discoveryv1.EndpointSlice) []string {
	var bad []string
	if r.Labels[expManagedBy] != expOurManager {
		bad = append(bad, fmt.Sprintf("label %s=%q, want %q", expManagedBy, r.Labels[expManagedBy], expOurManager))
	}
	if r.AddressType != h.AddressType {
		bad = append(bad, fmt.Sprintf("addressType %q, home %q", r.AddressType, h.AddressType))
	}
	if len(r.Ports) != len(h.Ports) {
		bad = append(bad, fmt.Sprintf("%d ports, home %d", len(r.Ports), len(h.Ports)))
	} else {
		for i := range h.Ports {
			hp, rp := h.Ports[i], r.Ports[i]
			if strp(hp.Name) != strp(rp.Name) || int32v(hp.Port) != int32v(rp.Port) || protov(hp.Protocol) != protov(rp.Protocol) {
				bad = append(bad, fmt.Sprintf("port %d differs: %v/%v/%v, home %v/%v/%v", i,
					strp(rp.Name), int32v(rp.Port), protov(rp.Protocol), strp(hp.Name), int32v(hp.Port), protov(hp.Protocol)))
			}
		}
	}
	var want []discoveryv1.Endpoint
	for _, ep := range h.Endpoints {
		if ep.NodeName != nil && *ep.NodeName == vnodeName {
			continue
		}
		want = append(want, ep)
	}
	byAddr := map[string]discoveryv1.Endpoint{}
	for _, ep := range r.Endpoints {
		byAddr[strings.Join(ep.Addresses, ",")] = ep
	}
	if len(r.Endpoints) != len(want) {
		bad = append(bad, fmt.Sprintf("%d endpoints %v, want %d (home %v, minus the virtual node's)",
			len(r.Endpoints), expAddrs(*r), len(want), expAddrs(*h)))
	}
	for _, hep := range want {
		k := strings.Join(hep.Addresses, ",")
		rep, ok := byAddr[k]
		if !ok {
			bad = append(bad, fmt.Sprintf("no remote endpoint with addresses %s", k))
			continue
		}
		if strp(rep.NodeName) != e.id.homeName {
			bad = append(bad, fmt.Sprintf("endpoint %s nodeName %q, want the home cluster name %q", k, strp(rep.NodeName), e.id.homeName))
		}
		// an unset ready counts as ready (the Kubernetes rule; Liqo writes it so on a
		// healthy peering): the copy always says it
		wantReady := hep.Conditions.Ready == nil || *hep.Conditions.Ready
		if rep.Conditions.Ready == nil || *rep.Conditions.Ready != wantReady {
			bad = append(bad, fmt.Sprintf("endpoint %s ready %s, home %s (want %v)", k, boolp(rep.Conditions.Ready),
				boolp(hep.Conditions.Ready), wantReady))
		}
		if rep.Conditions.Serving != nil || rep.Conditions.Terminating != nil {
			bad = append(bad, fmt.Sprintf("endpoint %s keeps serving=%s terminating=%s (only ready is kept)", k,
				boolp(rep.Conditions.Serving), boolp(rep.Conditions.Terminating)))
		}
		if strp(rep.Hostname) != strp(hep.Hostname) || strp(rep.Zone) != strp(hep.Zone) {
			bad = append(bad, fmt.Sprintf("endpoint %s hostname/zone %s/%s, home %s/%s", k,
				strp(rep.Hostname), strp(rep.Zone), strp(hep.Hostname), strp(hep.Zone)))
		}
		if hep.TargetRef != nil {
			if rep.TargetRef == nil {
				bad = append(bad, fmt.Sprintf("endpoint %s has no targetRef", k))
			} else if rep.TargetRef.Kind != "Remote"+hep.TargetRef.Kind || rep.TargetRef.Name != hep.TargetRef.Name {
				bad = append(bad, fmt.Sprintf("endpoint %s targetRef %s/%s, want Remote%s/%s", k,
					rep.TargetRef.Kind, rep.TargetRef.Name, hep.TargetRef.Kind, hep.TargetRef.Name))
			}
		}
	}
	hm := *h.ObjectMeta.DeepCopy()
	delete(hm.Labels, expManagedBy) // replaced by ours
	return append(bad, cfgMeta(e.id, hm, r.ObjectMeta)...)
}

func strp(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
func boolp(p *bool) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
func int32v(p *int32) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
func protov(p *corev1.Protocol) string {
	if p == nil {
		return "<nil>"
	}
	return string(*p)
}

// waitSlices waits until every home slice of svc has its reflection (same name) in the
// remote namespace and extra (if any) accepts the home slices; it returns the remote ones.
func (e *cfgEnv) waitSlices(t *testing.T, svc string, extra func(home []discoveryv1.EndpointSlice) string) []discoveryv1.EndpointSlice {
	t.Helper()
	var got []discoveryv1.EndpointSlice
	e.poll(t, cfgTimeout, fmt.Sprintf("EndpointSlices of Service %s/%s reflected to %s", e.ns, svc, e.remote),
		func(ctx context.Context) (string, error) {
			hs, err := e.homeSlices(ctx, svc)
			if err != nil {
				return "", err
			}
			if len(hs) == 0 {
				return "no home EndpointSlice yet", nil
			}
			if extra != nil {
				if w := extra(hs); w != "" {
					return w, nil
				}
			}
			rs, err := e.remoteSlices(ctx, svc, true)
			if err != nil {
				return "", err
			}
			byName := map[string]*discoveryv1.EndpointSlice{}
			for i := range rs {
				byName[rs[i].Name] = &rs[i]
			}
			var bad []string
			for i := range hs {
				r, ok := byName[hs[i].Name]
				if !ok {
					bad = append(bad, "no remote slice "+hs[i].Name+" of ours")
					continue
				}
				for _, b := range expSliceDiff(e, &hs[i], r) {
					bad = append(bad, hs[i].Name+": "+b)
				}
			}
			if len(rs) != len(hs) {
				bad = append(bad, fmt.Sprintf("%d remote slices of ours, %d home slices", len(rs), len(hs)))
			}
			if len(bad) > 0 {
				return strings.Join(bad, "; "), nil
			}
			got = rs
			return "", nil
		})
	return got
}

// readyAddrs returns a check that the home slices hold exactly n ready endpoints.
func readyAddrs(n int) func(hs []discoveryv1.EndpointSlice) string {
	return func(hs []discoveryv1.EndpointSlice) string {
		c := 0
		for _, s := range hs {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready && len(ep.Addresses) > 0 {
					c++
				}
			}
		}
		if c != n {
			return fmt.Sprintf("home slices hold %d ready endpoints, want %d", c, n)
		}
		return ""
	}
}

// waitSvcGone waits until the remote Service name and every remote slice of ours for it are
// absent.
func (e *cfgEnv) waitSvcGone(t *testing.T, name string) {
	t.Helper()
	e.poll(t, cfgTimeout, fmt.Sprintf("remote Service %s/%s and its reflected slices deleted", e.remote, name),
		func(ctx context.Context) (string, error) {
			var bad []string
			s, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, name, metav1.GetOptions{})
			switch {
			case err == nil:
				bad = append(bad, "remote Service still there (resourceVersion "+s.ResourceVersion+")")
			case !apierrors.IsNotFound(err):
				return "", err
			}
			rs, err := e.remoteSlices(ctx, name, true)
			if err != nil {
				return "", err
			}
			for _, r := range rs {
				bad = append(bad, "reflected slice "+r.Name+" still there")
			}
			return strings.Join(bad, "; "), nil
		})
}

// ---------------------------------------------------------------- Services

// A home Deployment (2 replicas on a home kwok node) behind Service A and an offloaded one
// behind Service B: both Services are reflected with their ports; A's slices carry the home
// pod IPs as they are with our managed-by; B's reflected slices hold no endpoint of the
// offloaded pods; scaling A's Deployment to 3 updates its remote slice; our slices then
// stay unchanged for 60 s (the foreign EndpointSlice controller does not fight them).
func TestServicesTwoTier(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 10*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, expHomeDeployment("front", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, podsDeployment("back", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*corev1.Service{expService("svc-a", "front"), expService("svc-b", "back")} {
		if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitSvc(t, "svc-a", nil)
	e.waitSvc(t, "svc-b", nil)

	// A: the two home pods' IPs (as they are: home pod CIDR) in our reflected slices.
	e.waitSlices(t, "svc-a", readyAddrs(2))
	e.poll(t, cfgTimeout, "reflected slices of svc-a hold the 2 home pod IPs", e.sliceHoldsPods("svc-a", "app=front", 2))

	// B: the offloaded pods run on the virtual node; their endpoints are dropped.
	podsWaitSync(t, e.l, e.ns, e.remote, "app=back", 2, true, "offloaded Deployment back")
	e.waitSlices(t, "svc-b", readyAddrs(2))
	e.poll(t, cfgTimeout, "reflected slices of svc-b hold no endpoint of the offloaded pods",
		func(ctx context.Context) (string, error) {
			rs, err := e.remoteSlices(ctx, "svc-b", true)
			if err != nil {
				return "", err
			}
			if len(rs) == 0 {
				return "no reflected slice of svc-b", nil
			}
			for _, r := range rs {
				if len(r.Endpoints) != 0 {
					return fmt.Sprintf("reflected slice %s has endpoints %v", r.Name, expAddrs(r)), nil
				}
			}
			return "", nil
		})

	// Scale A to 3: the remote slice follows.
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Patch(ctx, "front", types.MergePatchType,
		[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSlices(t, "svc-a", readyAddrs(3))
	e.poll(t, cfgTimeout, "reflected slices of svc-a hold the 3 home pod IPs", e.sliceHoldsPods("svc-a", "app=front", 3))

	// Nobody fights over our slices: their resourceVersions hold for 60 s.
	snap := map[string]string{}
	for _, svc := range []string{"svc-a", "svc-b"} {
		rs, err := e.remoteSlices(ctx, svc, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			snap[r.Name] = r.ResourceVersion
		}
	}
	if len(snap) < 2 {
		t.Fatalf("only %d reflected slices of svc-a and svc-b: %v", len(snap), snap)
	}
	hostileHold(t, e.l, 60*time.Second, "reflected slices left alone", func(ctx context.Context, bad *complaints) error {
		seen := 0
		for _, svc := range []string{"svc-a", "svc-b"} {
			rs, err := e.remoteSlices(ctx, svc, false)
			if err != nil {
				return err
			}
			for _, r := range rs {
				rv, ours := snap[r.Name]
				if !ours {
					continue // the foreign controller's own slice for the remote Service
				}
				seen++
				if r.ResourceVersion != rv {
					bad.add("slice %s rewritten: resourceVersion %s, was %s (managed-by %q, managedFields %v)",
						r.Name, r.ResourceVersion, rv, r.Labels[expManagedBy], managers(r.ManagedFields))
				}
			}
		}
		if seen != len(snap) {
			bad.add("%d of our %d reflected slices present", seen, len(snap))
		}
		return nil
	})
}

func managers(m []metav1.ManagedFieldsEntry) []string {
	var out []string
	for _, f := range m {
		out = append(out, f.Manager+"/"+string(f.Operation))
	}
	return out
}

// sliceHoldsPods checks the reflected slices of svc hold exactly the pod IPs of the n home
// pods of sel.
func (e *cfgEnv) sliceHoldsPods(svc, sel string, n int) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		pods, err := podsList(ctx, tb.Home, e.ns, sel)
		if err != nil {
			return "", err
		}
		var want []string
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			if p.Status.PodIP == "" {
				return "home pod " + p.Name + " has no IP yet", nil
			}
			if !tb.Home.PodCIDR.Contains(net.ParseIP(p.Status.PodIP)) {
				return fmt.Sprintf("home pod %s IP %s outside the home pod CIDR", p.Name, p.Status.PodIP), nil
			}
			want = append(want, p.Status.PodIP)
		}
		if len(want) != n {
			return fmt.Sprintf("%d home pods of %s, want %d", len(want), sel, n), nil
		}
		sort.Strings(want)
		rs, err := e.remoteSlices(ctx, svc, true)
		if err != nil {
			return "", err
		}
		var got []string
		for _, r := range rs {
			got = append(got, expAddrs(r)...)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Sprintf("reflected addresses %v, home pod IPs %v", got, want), nil
		}
		return "", nil
	}
}

// A NodePort Service is reflected without its nodePort (the foreign cluster allocates
// one); with liqo.io/force-remote-node-port: "true" the home nodePort is kept; a headless
// Service keeps clusterIP None.
func TestServicesNodePortAndHeadless(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)

	// A nodePort free in both clusters (both use the default range 30000-32767).
	used := map[int32]bool{}
	for _, c := range []*Cluster{tb.Home, tb.Foreign} {
		l, err := c.Client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Items {
			for _, p := range s.Spec.Ports {
				used[p.NodePort] = true
			}
		}
	}
	forced := int32(30000 + rand.Intn(2700))
	for used[forced] {
		forced++
	}

	plain := expService("np-plain", "np")
	plain.Spec.Type = corev1.ServiceTypeNodePort
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	force := expService("np-forced", "np")
	force.Spec.Type = corev1.ServiceTypeNodePort
	force.Annotations[expForceNodePort] = "true"
	force.Spec.Ports = force.Spec.Ports[:1]
	force.Spec.Ports[0].NodePort = forced
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, force, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	headless := expService("headless", "np")
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, headless, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	r := e.waitSvc(t, "np-plain", func(h, r *corev1.Service) []string {
		var bad []string
		for i := range h.Spec.Ports {
			if i < len(r.Spec.Ports) && r.Spec.Ports[i].NodePort == 0 {
				bad = append(bad, fmt.Sprintf("remote port %d has no nodePort yet", i))
			}
		}
		return bad
	})
	// The foreign allocation is independent of the home one; with two ports, both
	// coinciding by chance is negligible, but the proof is the managed fields: ours must
	// not own a nodePort.
	h, err := tb.Home.Client.CoreV1().Services(e.ns).Get(ctx, "np-plain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range h.Spec.Ports {
		if h.Spec.Ports[i].NodePort == r.Spec.Ports[i].NodePort {
			same++
		}
	}
	if same == len(h.Spec.Ports) {
		t.Errorf("np-plain: remote nodePorts %v equal the home ones: copied though not forced", r.Spec.Ports)
	}
	for _, m := range r.ManagedFields {
		if m.Manager == cfgFieldManager && m.FieldsV1 != nil && strings.Contains(string(m.FieldsV1.Raw), `"f:nodePort"`) {
			t.Errorf("np-plain: field manager %s owns a nodePort (not forced): %s", cfgFieldManager, m.FieldsV1.Raw)
		}
	}

	e.waitSvc(t, "np-forced", func(h, r *corev1.Service) []string {
		if len(r.Spec.Ports) == 1 && r.Spec.Ports[0].NodePort != forced {
			return []string{fmt.Sprintf("forced nodePort %d, want the home %d", r.Spec.Ports[0].NodePort, forced)}
		}
		return nil
	})
	e.waitSvc(t, "headless", nil)
}

// With networking.reflectIPs=false no EndpointSlice is reflected; Services still are.
func TestServicesReflectIPsFalse(t *testing.T) {
	e := expStart(t, "--set", "networking.reflectIPs=false")
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, expHomeDeployment("front", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService("svc-a", "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "svc-a", nil)
	Eventually(t, cfgTimeout, "home slices of svc-a with 2 ready endpoints", func(ctx context.Context) (bool, error) {
		hs, err := e.homeSlices(ctx, "svc-a")
		return err == nil && len(hs) > 0 && readyAddrs(2)(hs) == "", err
	})
	hostileHold(t, e.l, hostileWatch, "no EndpointSlice reflected", func(ctx context.Context, bad *complaints) error {
		rs, err := e.remoteSlices(ctx, "", true)
		if err != nil {
			return err
		}
		for _, r := range rs {
			bad.add("remote slice %s reflected (addresses %v)", r.Name, expAddrs(r))
		}
		return nil
	})
}

// liqo.io/skip-reflection added to a reflected Service deletes its remote copy and its
// reflected slices; a Service created with it is never reflected, nor are its slices.
func TestServicesSkipReflection(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, expHomeDeployment("front", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService("svc-a", "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	skipped := expService("svc-skipped", "front")
	skipped.Annotations[cfgSkip] = "true"
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, skipped, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "svc-a", nil)
	e.waitSlices(t, "svc-a", readyAddrs(1))

	absent := func(ctx context.Context, bad *complaints) error {
		_, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, "svc-skipped", metav1.GetOptions{})
		switch {
		case err == nil:
			bad.add("Service svc-skipped reflected though annotated %s", cfgSkip)
		case !apierrors.IsNotFound(err):
			return err
		}
		rs, err := e.remoteSlices(ctx, "svc-skipped", true)
		if err != nil {
			return err
		}
		for _, r := range rs {
			bad.add("slice %s of svc-skipped reflected", r.Name)
		}
		return nil
	}
	hostileHold(t, e.l, 10*time.Second, "svc-skipped not reflected", absent)

	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Patch(ctx, "svc-a", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"`+cfgSkip+`":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvcGone(t, "svc-a")
	hostileHold(t, e.l, 10*time.Second, "svc-a stays unreflected", func(ctx context.Context, bad *complaints) error {
		_, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, "svc-a", metav1.GetOptions{})
		if err == nil {
			bad.add("remote svc-a came back")
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		rs, err := e.remoteSlices(ctx, "svc-a", true)
		if err != nil {
			return err
		}
		for _, r := range rs {
			bad.add("slice %s of svc-a came back", r.Name)
		}
		return absent(ctx, bad)
	})
}

// A foreign user's Service of the same name in the remote namespace is never touched: the
// home Service gets a Warning FailedReflection and the conflicts counter rises.
func TestServicesUnownedConflict(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	const name = "taken"
	fs := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"owner": "foreign-user"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "foreign"},
			Ports: []corev1.ServicePort{{Name: "x", Port: 9999, Protocol: corev1.ProtocolTCP}}}}
	f, err := tb.Foreign.Client.CoreV1().Services(e.remote).Create(ctx, fs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService(name, "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	intact := func(ctx context.Context, bad *complaints) error {
		s, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the agent deleted the foreign user's Service %s/%s", e.remote, name)
			return nil
		case err != nil:
			return err
		}
		if s.UID != f.UID || s.ResourceVersion != f.ResourceVersion {
			bad.add("the foreign user's Service was replaced or written (uid %s rv %s, was %s %s; managers %v)",
				s.UID, s.ResourceVersion, f.UID, f.ResourceVersion, managers(s.ManagedFields))
		}
		if s.Labels[offOrigin] != "" || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 9999 {
			bad.add("the foreign user's Service changed: labels %v ports %v", s.Labels, s.Spec.Ports)
		}
		return nil
	}
	e.waitEvent(t, "Service", name, corev1.EventTypeWarning, "FailedReflection", "already exists")
	e.poll(t, 30*time.Second, `liqolet_reflection_conflicts_total{kind="Service"} >= 1`, func(ctx context.Context) (string, error) {
		v, ok := cfgMetric(e.httpGet(t, "/metrics"), "liqolet_reflection_conflicts_total", map[string]string{"kind": "Service"})
		if !ok || v < 1 {
			return fmt.Sprintf("value %v (present %v)", v, ok), nil
		}
		return "", nil
	})
	hostileHold(t, e.l, hostileWatch, "with the home Service present", intact)
	if err := tb.Home.Client.CoreV1().Services(e.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	hostileHold(t, e.l, hostileWatch/2, "after the home Service was deleted", intact)
}

// ---------------------------------------------------------------- Ingresses

// An Ingress with TLS, the class annotation and spec.ingressClassName is reflected with
// rules, tls and defaultBackend, without ingressClassName and without the class annotation.
func TestIngressesTLS(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	class := "nginx"
	pt := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web",
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{expIngressClassAnn: "nginx", "example.com/note": "reflect me"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "fallback", Port: networkingv1.ServiceBackendPort{Number: 8080}}},
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"web.example.com", "www.example.com"}, SecretName: "web-tls"}},
			Rules: []networkingv1.IngressRule{{Host: "web.example.com", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/api", PathType: &pt,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "api", Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}}}}},
		},
	}
	if _, err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(t, cfgTimeout, "Ingress web reflected", func(ctx context.Context) (string, error) {
		h, err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		r, err := tb.Foreign.Client.NetworkingV1().Ingresses(e.remote).Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "no remote Ingress", nil
		}
		if err != nil {
			return "", err
		}
		var bad []string
		if r.Spec.IngressClassName != nil {
			bad = append(bad, fmt.Sprintf("ingressClassName %q set", *r.Spec.IngressClassName))
		}
		if v, ok := r.Annotations[expIngressClassAnn]; ok {
			bad = append(bad, fmt.Sprintf("annotation %s=%q kept", expIngressClassAnn, v))
		}
		if !reflect.DeepEqual(r.Spec.TLS, h.Spec.TLS) {
			bad = append(bad, fmt.Sprintf("tls %+v, home %+v", r.Spec.TLS, h.Spec.TLS))
		}
		if !reflect.DeepEqual(r.Spec.Rules, h.Spec.Rules) {
			bad = append(bad, fmt.Sprintf("rules %+v, home %+v", r.Spec.Rules, h.Spec.Rules))
		}
		if r.Spec.DefaultBackend == nil || r.Spec.DefaultBackend.Service == nil ||
			r.Spec.DefaultBackend.Service.Name != "fallback" || r.Spec.DefaultBackend.Service.Port.Number != 8080 {
			bad = append(bad, fmt.Sprintf("defaultBackend %+v", r.Spec.DefaultBackend))
		}
		hm := *h.ObjectMeta.DeepCopy()
		delete(hm.Annotations, expIngressClassAnn)
		bad = append(bad, cfgMeta(e.id, hm, r.ObjectMeta)...)
		return strings.Join(bad, "; "), nil
	})
}

// A reflected Service follows its home one: a changed port and a new label reach the remote
// copy; its slices follow the scale to zero; deleting the home Service deletes the remote
// one and the reflected slices.
func TestServicesLifecycle(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, expHomeDeployment("front", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService("svc-a", "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "svc-a", nil)
	e.waitSlices(t, "svc-a", readyAddrs(1))

	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Patch(ctx, "svc-a", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/spec/ports/0/port","value":8081},`+
			`{"op":"add","path":"/metadata/labels/example.com~1added","value":"yes"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "svc-a", func(h, r *corev1.Service) []string {
		if r.Spec.Ports[0].Port != 8081 || r.Labels["example.com/added"] != "yes" {
			return []string{fmt.Sprintf("remote port %d label %q, want 8081 and yes", r.Spec.Ports[0].Port, r.Labels["example.com/added"])}
		}
		return nil
	})

	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Patch(ctx, "front", types.MergePatchType,
		[]byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSlices(t, "svc-a", readyAddrs(0))
	e.poll(t, cfgTimeout, "reflected slices of svc-a empty", e.sliceHoldsPods("svc-a", "app=front", 0))

	if err := tb.Home.Client.CoreV1().Services(e.ns).Delete(ctx, "svc-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvcGone(t, "svc-a")
}

// With reflection.service.type=AllowList only Services annotated liqo.io/allow-reflection
// are reflected, and only their slices; annotating one later reflects it and its slices.
func TestServicesAllowList(t *testing.T) {
	e := expStart(t, "--set", "reflection.service.type=AllowList")
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, expHomeDeployment("front", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	allowed := expService("allowed", "front")
	allowed.Annotations[cfgAllow] = "true"
	for _, s := range []*corev1.Service{allowed, expService("plain", "front")} {
		if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitSvc(t, "allowed", nil)
	e.waitSlices(t, "allowed", readyAddrs(1))
	hostileHold(t, e.l, 10*time.Second, "AllowList: the unannotated Service", func(ctx context.Context, bad *complaints) error {
		_, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, "plain", metav1.GetOptions{})
		switch {
		case err == nil:
			bad.add("Service plain reflected without %s", cfgAllow)
		case !apierrors.IsNotFound(err):
			return err
		}
		rs, err := e.remoteSlices(ctx, "plain", true)
		if err != nil {
			return err
		}
		for _, r := range rs {
			bad.add("slice %s of the unannotated Service reflected", r.Name)
		}
		return nil
	})
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Patch(ctx, "plain", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"`+cfgAllow+`":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "plain", nil)
	e.waitSlices(t, "plain", readyAddrs(1))
}

// reflection.ingress.workers=0 switches Ingress reflection off; Services still flow.
func TestIngressesWorkersZero(t *testing.T) {
	e := expStart(t, "--set", "reflection.ingress.workers=0")
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Create(ctx, expIngress("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService("svc-a", "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "svc-a", nil)
	hostileHold(t, e.l, 15*time.Second, "ingress workers=0", func(ctx context.Context, bad *complaints) error {
		l, err := tb.Foreign.Client.NetworkingV1().Ingresses(e.remote).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, i := range l.Items {
			bad.add("Ingress %s reflected", i.Name)
		}
		return nil
	})
}

func expIngress(name string) *networkingv1.Ingress {
	pt := networkingv1.PathTypeExact
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: name + ".example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "svc-a", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}},
	}
}

// An Ingress follows its home one (a changed host) and goes when it is deleted.
func TestIngressesLifecycle(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Create(ctx, expIngress("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := func(want string) func(ctx context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			r, err := tb.Foreign.Client.NetworkingV1().Ingresses(e.remote).Get(ctx, "web", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "no remote Ingress", nil
			}
			if err != nil {
				return "", err
			}
			h, err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			bad := cfgMeta(e.id, h.ObjectMeta, r.ObjectMeta)
			if len(r.Spec.Rules) != 1 || r.Spec.Rules[0].Host != want {
				bad = append(bad, fmt.Sprintf("rules %v, want host %s", r.Spec.Rules, want))
			}
			return strings.Join(bad, "; "), nil
		}
	}
	e.poll(t, cfgTimeout, "Ingress web reflected", host("web.example.com"))
	if _, err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Patch(ctx, "web", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/spec/rules/0/host","value":"moved.example.com"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(t, cfgTimeout, "Ingress web host updated", host("moved.example.com"))
	if err := tb.Home.Client.NetworkingV1().Ingresses(e.ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(t, cfgTimeout, "remote Ingress web deleted", func(ctx context.Context) (string, error) {
		_, err := tb.Foreign.Client.NetworkingV1().Ingresses(e.remote).Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return "still there", nil
	})
}

// A foreign user's EndpointSlice in the remote namespace, labelled with the name of a
// reflected Service but not managed by us, is never touched (not adopted, not deleted, not
// rewritten), even when the home Service is deleted.
func TestHostileExpositionForeignSlice(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	port, proto, pname := int32(80), corev1.ProtocolTCP, "http"
	ready := true
	fs, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "svc-a-foreign", Labels: map[string]string{
			expServiceName: "svc-a", expManagedBy: "someone-else.example.com"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService("svc-a", "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "svc-a", nil)
	e.waitSlices(t, "svc-a", nil)
	intact := func(ctx context.Context, bad *complaints) error {
		s, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Get(ctx, fs.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			bad.add("the foreign user's EndpointSlice %s was deleted", fs.Name)
			return nil
		case err != nil:
			return err
		}
		if s.UID != fs.UID || s.ResourceVersion != fs.ResourceVersion {
			bad.add("the foreign user's EndpointSlice was replaced or written (uid %s rv %s, was %s %s; managers %v)",
				s.UID, s.ResourceVersion, fs.UID, fs.ResourceVersion, managers(s.ManagedFields))
		}
		return nil
	}
	hostileHold(t, e.l, hostileWatch, "with the home Service present", intact)
	if err := tb.Home.Client.CoreV1().Services(e.ns).Delete(ctx, "svc-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvcGone(t, "svc-a")
	hostileHold(t, e.l, hostileWatch/2, "after the home Service was deleted", intact)
}

// A home EndpointSlice written by hand (no selector on its Service, another manager) is
// reflected like any other: our managed-by, the endpoint on the virtual node dropped, the
// others kept with nodeName = the home cluster name (also when the home one had none), only
// `ready` kept, hostname and zone copied, targetRef kind prefixed Remote; an update to the
// home slice reaches the copy; deleting it deletes the copy.
func TestEndpointSlicesManual(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	svc := expService("manual", "none")
	svc.Spec.Selector = nil
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	host, zone, node, vnode := "db-0", "zone-a", "some-home-node", vnodeName
	port, proto, pname := int32(8080), corev1.ProtocolTCP, "http"
	hs := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "manual-1", Labels: map[string]string{
			expServiceName: "manual", expManagedBy: "user.example.com", "example.com/x": "y"},
			Annotations: map[string]string{"example.com/note": "hand made"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.10.9.1"}, Hostname: &host, Zone: &zone, NodeName: &node,
				Conditions: discoveryv1.EndpointConditions{Ready: &yes, Serving: &yes, Terminating: &no},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: "db-0", Namespace: e.ns}},
			{Addresses: []string{"192.0.2.50"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
			{Addresses: []string{"10.20.7.7"}, NodeName: &vnode, Conditions: discoveryv1.EndpointConditions{Ready: &yes},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "offloaded", Namespace: e.ns}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}},
	}
	if _, err := tb.Home.Client.DiscoveryV1().EndpointSlices(e.ns).Create(ctx, hs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "manual", nil)
	rs := e.waitSlices(t, "manual", nil)
	if len(rs) != 1 || len(rs[0].Endpoints) != 2 {
		t.Fatalf("remote slices %v", rs)
	}
	// Update: an address changes.
	if _, err := tb.Home.Client.DiscoveryV1().EndpointSlices(e.ns).Patch(ctx, "manual-1", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/endpoints/1/addresses/0","value":"192.0.2.51"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSlices(t, "manual", func(h []discoveryv1.EndpointSlice) string {
		if len(h) != 1 || len(h[0].Endpoints) != 3 || h[0].Endpoints[1].Addresses[0] != "192.0.2.51" {
			return "home slice not patched yet"
		}
		return ""
	})
	if err := tb.Home.Client.DiscoveryV1().EndpointSlices(e.ns).Delete(ctx, "manual-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(t, cfgTimeout, "reflected slice manual-1 deleted", func(ctx context.Context) (string, error) {
		_, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Get(ctx, "manual-1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return "still there", nil
	})
}

// A foreign user's edits to our copies are repaired: a remote Service whose selector and
// port were changed, a reflected slice given an extra endpoint, and a reflected slice and
// Service deleted outright (re-created with new uids).
func TestHostileExpositionDrift(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := tb.Home.Client.AppsV1().Deployments(e.ns).Create(ctx, expHomeDeployment("front", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, expService("svc-a", "front"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := e.waitSvc(t, "svc-a", nil)
	slices := e.waitSlices(t, "svc-a", readyAddrs(1))

	t.Run("ServiceEdited", func(t *testing.T) {
		r, err := tb.Foreign.Client.CoreV1().Services(e.remote).Get(ctx, "svc-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Spec.Selector = map[string]string{"app": "evil"}
		r.Spec.Ports[0].Port = 81
		if _, err := tb.Foreign.Client.CoreV1().Services(e.remote).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitSvc(t, "svc-a", nil)
	})

	t.Run("SliceEdited", func(t *testing.T) {
		r, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Get(ctx, slices[0].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		yes := true
		r.Endpoints = append(r.Endpoints, discoveryv1.Endpoint{Addresses: []string{"192.0.2.99"},
			Conditions: discoveryv1.EndpointConditions{Ready: &yes}})
		if _, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitSlices(t, "svc-a", readyAddrs(1))
	})

	t.Run("SliceDeleted", func(t *testing.T) {
		if err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Delete(ctx, slices[0].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		rs := e.waitSlices(t, "svc-a", readyAddrs(1))
		if rs[0].UID == slices[0].UID {
			t.Fatalf("reflected slice has the deleted one's uid %s", rs[0].UID)
		}
	})

	t.Run("ServiceDeleted", func(t *testing.T) {
		if err := tb.Foreign.Client.CoreV1().Services(e.remote).Delete(ctx, "svc-a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		r := e.waitSvc(t, "svc-a", nil)
		if r.UID == first.UID {
			t.Fatalf("remote Service has the deleted one's uid %s", r.UID)
		}
	})
}

// With `default` offloaded, a Service there is reflected but the `kubernetes` Service and
// its EndpointSlice never are; ending the offloading (restart without --offload) removes
// the remote namespace.
func TestServicesKubernetesDefault(t *testing.T) {
	id := offIdentities(t)
	deleteVirtualNode(t, true)
	t.Cleanup(func() { deleteVirtualNode(t, false) })
	offForeignCleanup(t, id, "default")
	ctx := ctxFor(t, 5*time.Minute)
	probe := "e2e-probe-" + offRand(5)
	if _, err := tb.Home.Client.CoreV1().Services("default").Create(ctx, expService(probe, probe), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = tb.Home.Client.CoreV1().Services("default").Delete(ctx, probe, metav1.DeleteOptions{})
	})
	l := offStartAgent(t, "--offload", "default")
	remote := id.defaultName("default")
	offWaitRemote(t, l, id, remote, "default")
	e := &cfgEnv{l: l, id: id, ns: "default", remote: remote}
	e.waitSvc(t, probe, nil)
	e.waitSlices(t, probe, nil)
	hostileHold(t, l, 10*time.Second, "the kubernetes Service and slice not reflected", func(ctx context.Context, bad *complaints) error {
		_, err := tb.Foreign.Client.CoreV1().Services(remote).Get(ctx, "kubernetes", metav1.GetOptions{})
		switch {
		case err == nil:
			bad.add("Service kubernetes reflected to %s", remote)
		case !apierrors.IsNotFound(err):
			return err
		}
		rs, err := e.remoteSlices(ctx, "", true)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Name == "kubernetes" || r.Labels[expServiceName] == "kubernetes" {
				bad.add("EndpointSlice %s of the kubernetes Service reflected", r.Name)
			}
		}
		return nil
	})
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	l = offStartAgent(t)
	offWaitRemoteGone(t, remote)
	offWaitLabel(t, "default", false)
}
