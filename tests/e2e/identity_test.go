package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// whoAmI asks the API server who the credentials in cfg belong to.
func whoAmI(ctx context.Context, cfg *rest.Config) (*authnv1.UserInfo, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return &r.Status.UserInfo, nil
}

// expectUnauthorized fails unless the server answers 401 to cfg's credentials.
func expectUnauthorized(ctx context.Context, cfg *rest.Config) error {
	u, err := whoAmI(ctx, cfg)
	if err == nil {
		return fmt.Errorf("accepted as %q, want 401 Unauthorized", u.Username)
	}
	if !apierrors.IsUnauthorized(err) {
		return fmt.Errorf("got %v, want 401 Unauthorized", err)
	}
	return nil
}

// TestLiqoletIdentities checks liqolet's two credentials on each cluster:
// the client-certificate kubeconfig (user "liqolet") and the ServiceAccount
// token kubeconfig (liqo/liqolet).  Each must authenticate as that identity,
// read /version and list namespaces; a token minted by one cluster must be
// rejected by the other.
func TestLiqoletIdentities(t *testing.T) {
	type ident struct {
		kind       string
		kubeconfig func(*Cluster) string
		user       string
		group      string
	}
	idents := []ident{
		{"cert", func(c *Cluster) string { return c.LiqoletCertKubeconfig }, "liqolet", ""},
		{"token", func(c *Cluster) string { return c.LiqoletTokenKubeconfig },
			"system:serviceaccount:liqo:liqolet", "system:serviceaccounts:liqo"},
	}
	for _, c := range tb.Clusters() {
		for _, id := range idents {
			t.Run(c.Name+"/"+id.kind, func(t *testing.T) {
				ctx := ctxFor(t, time.Minute)
				cfg, err := restConfig(id.kubeconfig(c))
				if err != nil {
					t.Fatal(err)
				}
				hasCert := len(cfg.TLSClientConfig.CertData) > 0 || cfg.TLSClientConfig.CertFile != ""
				hasToken := cfg.BearerToken != "" || cfg.BearerTokenFile != ""
				if id.kind == "cert" && (!hasCert || hasToken) {
					t.Fatalf("kubeconfig should carry a client certificate only (cert %v, token %v)", hasCert, hasToken)
				}
				if id.kind == "token" && (hasCert || !hasToken) {
					t.Fatalf("kubeconfig should carry a bearer token only (cert %v, token %v)", hasCert, hasToken)
				}
				if cfg.Host != c.APIServer {
					t.Errorf("server %s, want %s", cfg.Host, c.APIServer)
				}

				u, err := whoAmI(ctx, cfg)
				if err != nil {
					t.Fatalf("SelfSubjectReview: %v", err)
				}
				if u.Username != id.user {
					t.Errorf("authenticated as %q, want %q", u.Username, id.user)
				}
				if !slices.Contains(u.Groups, "system:authenticated") {
					t.Errorf("groups %v lack system:authenticated", u.Groups)
				}
				if id.group != "" && !slices.Contains(u.Groups, id.group) {
					t.Errorf("groups %v lack %s", u.Groups, id.group)
				}

				cs, err := kubernetes.NewForConfig(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := cs.Discovery().ServerVersion(); err != nil {
					t.Errorf("GET /version: %v", err)
				}
				nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
				if err != nil {
					t.Fatalf("list namespaces: %v", err)
				}
				names := make([]string, 0, len(nss.Items))
				for _, ns := range nss.Items {
					names = append(names, ns.Name)
				}
				for _, want := range []string{"default", "kube-system", "liqo"} {
					if !slices.Contains(names, want) {
						t.Errorf("namespace list %v lacks %s", names, want)
					}
				}
			})
		}
	}

	// Cross-cluster: credentials of one cluster, server and CA of the other.
	for _, id := range idents {
		for _, pair := range [][2]*Cluster{{tb.Home, tb.Foreign}, {tb.Foreign, tb.Home}} {
			from, to := pair[0], pair[1]
			t.Run(fmt.Sprintf("%s-%s-rejected-by-%s", from.Name, id.kind, to.Name), func(t *testing.T) {
				ctx := ctxFor(t, time.Minute)
				cfg, err := restConfig(id.kubeconfig(from))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Host = to.Config.Host
				cfg.TLSClientConfig.CAData = to.Config.TLSClientConfig.CAData
				cfg.TLSClientConfig.CAFile = to.Config.TLSClientConfig.CAFile
				if err := expectUnauthorized(ctx, cfg); err != nil {
					t.Error(err)
				}
			})
		}
	}
}
