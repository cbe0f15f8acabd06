package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization the base uses;
// decoding strictly into it refuses anything else.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// base uses (it is not in k8s.io/api).
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func decodeStrict(t *testing.T, dir, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestKubernetesBase decodes every file of deploy/kubernetes strictly into
// the Kubernetes API types and checks what running mzsync there relies on:
// every file is a resource of the kustomization; the probes hit the
// daemon's /healthz and /readyz on the port of its --listen default; the
// container runs as non-root on a read-only root file system; credentials
// come from a Secret mounted as files, never in args or env values; the
// Service, NetworkPolicy and ServiceMonitor reach that port.
func TestKubernetesBase(t *testing.T) {
	dir := filepath.Join(root(t), "deploy", "kubernetes")

	var k kustomization
	decodeStrict(t, dir, "kustomization.yaml", &k)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) && n != "kustomization.yaml" {
			files = append(files, n)
		}
	}
	res := append([]string{}, k.Resources...)
	sort.Strings(res)
	if strings.Join(res, " ") != strings.Join(files, " ") {
		t.Errorf("kustomization.yaml resources %q, want exactly the files %q", res, files)
	}

	// The daemon's side: the endpoints it serves and its --listen default.
	httpGo, err := os.ReadFile(filepath.Join(root(t), "internal", "daemon", "http.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`"GET /healthz"`, `"GET /readyz"`, `"GET /metrics"`} {
		if !strings.Contains(string(httpGo), p) {
			t.Errorf("internal/daemon/http.go no longer serves %s", p)
		}
	}
	runGo, err := os.ReadFile(filepath.Join(root(t), "cmd", "mzsync", "run.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"listen", "[^"]*:(\d+)"`).FindSubmatch(runGo)
	if m == nil {
		t.Fatal(`cmd/mzsync/run.go: no --listen default "host:port"`)
	}
	port := string(m[1])

	var d appsv1.Deployment
	decodeStrict(t, dir, "deployment.yaml", &d)
	if d.Kind != "Deployment" || d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("deployment.yaml: %s with replicas %v, want a Deployment of 2", d.Kind, d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("deployment.yaml: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	resolve := func(p intstr.IntOrString) string {
		if p.Type == intstr.String {
			if n, ok := ports[p.StrVal]; ok {
				p = intstr.FromInt32(n)
			}
		}
		return p.String()
	}
	for name, probe := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("deployment.yaml: no HTTP probe on %s", name)
			continue
		}
		if probe.HTTPGet.Path != name || resolve(probe.HTTPGet.Port) != port {
			t.Errorf("deployment.yaml: probe %s:%s, want %s on port %s (the --listen default)", probe.HTTPGet.Path, resolve(probe.HTTPGet.Port), name, port)
		}
	}
	if !contains(c.Args, "run") || !contains(c.Args, "--listen=0.0.0.0:"+port) || !contains(c.Args, "--listen-non-loopback") {
		t.Errorf("deployment.yaml: args %q, want run --listen=0.0.0.0:%s --listen-non-loopback", c.Args, port)
	}

	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("deployment.yaml: the pod does not run as a non-root user")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !contains(capNames(sc.Capabilities.Drop), "ALL") {
		t.Error("deployment.yaml: the container needs readOnlyRootFilesystem, no privilege escalation and drop ALL")
	}

	// Credentials: a Secret volume, mounted read-only; every *-file flag
	// and PGPASSFILE point into it; no credential in args or env values.
	secretVol := ""
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			secretVol = v.Name
		}
	}
	mount := ""
	for _, vm := range c.VolumeMounts {
		if vm.Name == secretVol && vm.ReadOnly {
			mount = vm.MountPath
		}
	}
	if secretVol == "" || mount == "" {
		t.Fatal("deployment.yaml: no Secret volume mounted read-only")
	}
	fileFlags := 0
	for _, a := range c.Args {
		if name, val, ok := strings.Cut(a, "="); ok && strings.HasSuffix(name, "-file") {
			fileFlags++
			if !strings.HasPrefix(val, mount+"/") {
				t.Errorf("deployment.yaml: %s is not in the secret mount %s", a, mount)
			}
		}
		if regexp.MustCompile(`://[^/@]*:[^/@]*@|(?i)--(materialize|password|token|secret)=`).MatchString(a) {
			t.Errorf("deployment.yaml: argument %q carries a credential", a)
		}
	}
	if fileFlags < 3 {
		t.Errorf("deployment.yaml: %d --*-file flags, want the git token, webhook secret and admin token as files", fileFlags)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("deployment.yaml: env %s comes from a reference; credentials are mounted as files", e.Name)
		}
		env[e.Name] = e.Value
	}
	if !strings.HasPrefix(env["PGPASSFILE"], mount+"/") {
		t.Errorf("deployment.yaml: PGPASSFILE = %q, want a file in %s", env["PGPASSFILE"], mount)
	}
	if regexp.MustCompile(`://[^/@]*:[^/@]*@`).MatchString(env["MZSYNC_MATERIALIZE"]) {
		t.Error("deployment.yaml: MZSYNC_MATERIALIZE carries a password")
	}

	var svc corev1.Service
	decodeStrict(t, dir, "service.yaml", &svc)
	if svc.Kind != "Service" || len(svc.Spec.Ports) != 1 || resolve(svc.Spec.Ports[0].TargetPort) != port {
		t.Errorf("service.yaml: %s ports %+v, want one port targeting %s", svc.Kind, svc.Spec.Ports, port)
	}
	for k, v := range svc.Spec.Selector {
		if pod := d.Spec.Template.Labels[k]; pod != v {
			t.Errorf("service.yaml: selector %s=%s does not match the pods (%q)", k, v, pod)
		}
	}

	var np networkingv1.NetworkPolicy
	decodeStrict(t, dir, "networkpolicy.yaml", &np)
	if np.Kind != "NetworkPolicy" || len(np.Spec.Ingress) == 0 || len(np.Spec.Ingress[0].Ports) == 0 ||
		np.Spec.Ingress[0].Ports[0].Port == nil || resolve(*np.Spec.Ingress[0].Ports[0].Port) != port {
		t.Errorf("networkpolicy.yaml: ingress does not admit port %s", port)
	}
	if len(np.Spec.Egress) == 0 || !contains(policyTypes(np.Spec.PolicyTypes), "Egress") {
		t.Error("networkpolicy.yaml: egress is not restricted")
	}

	var sm serviceMonitor
	decodeStrict(t, dir, "servicemonitor.yaml", &sm)
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" || len(sm.Spec.Endpoints) != 1 ||
		sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("servicemonitor.yaml: %+v, want /metrics on the Service's port %q", sm, svc.Spec.Ports[0].Name)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("servicemonitor.yaml: selector %s=%s does not match the Service's labels", k, v)
		}
	}

	var sa corev1.ServiceAccount
	decodeStrict(t, dir, "serviceaccount.yaml", &sa)
	if sa.Kind != "ServiceAccount" || sa.Name != pod.ServiceAccountName {
		t.Errorf("serviceaccount.yaml: %s %s, want the pod's service account %s", sa.Kind, sa.Name, pod.ServiceAccountName)
	}
}

func capNames(cs []corev1.Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func policyTypes(ps []networkingv1.PolicyType) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
