package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestKubernetesExample parses examples/kubernetes (no cluster here for
// kubectl --dry-run, which needs the API server's schema) and checks what
// the README promises of it: an Indexed Job of N pods, N at once, whose
// failure policy retries an index on 75 and fails the Job on 64, 65 and 78,
// one results file per index; and the ConfigMap's config, with the args
// expanded as Kubernetes does for index 2, is one mailer takes.
func TestKubernetesExample(t *testing.T) {
	var job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Spec       struct {
			CompletionMode       string `yaml:"completionMode"`
			Completions          int
			Parallelism          int
			BackoffLimitPerIndex *int `yaml:"backoffLimitPerIndex"`
			PodFailurePolicy     struct {
				Rules []struct {
					Action      string
					OnExitCodes *struct {
						ContainerName string `yaml:"containerName"`
						Operator      string
						Values        []int
					} `yaml:"onExitCodes"`
				}
			} `yaml:"podFailurePolicy"`
			Template struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []struct {
						Name string
						Args []string
					}
					Volumes []map[string]any
				}
			}
		}
	}
	readYAML(t, "../../examples/kubernetes/job.yaml", &job)
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions < 2 || s.Parallelism != s.Completions {
		t.Fatalf("not an Indexed Job with completions = parallelism: %+v", job)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		t.Error("no backoffLimitPerIndex: a failed index would not be retried on its own")
	}
	if s.Template.Spec.RestartPolicy != "Never" {
		t.Error("podFailurePolicy needs restartPolicy Never")
	}
	actions := map[int]string{}
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.Operator == "In" && r.OnExitCodes.ContainerName == "mailer" {
			for _, v := range r.OnExitCodes.Values {
				actions[v] = r.Action
			}
		}
	}
	for code, want := range map[int]string{64: "FailJob", 65: "FailJob", 78: "FailJob", 75: "Count"} {
		if actions[code] != want {
			t.Errorf("exit %d: action %q, want %s", code, actions[code], want)
		}
	}
	if len(s.Template.Spec.Containers) != 1 || s.Template.Spec.Containers[0].Name != "mailer" {
		t.Fatal("want one container named mailer")
	}
	args := strings.Join(s.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{fmt.Sprintf("--shard=$(JOB_COMPLETION_INDEX)/%d", s.Completions), "--results=/data/results/shard-$(JOB_COMPLETION_INDEX).csv", "--config=/config/mailer.yaml"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}

	var cm struct {
		Kind string
		Data map[string]string
	}
	readYAML(t, "../../examples/kubernetes/configmap.yaml", &cm)
	if cm.Kind != "ConfigMap" || cm.Data["mailer.yaml"] == "" || cm.Data["newsletter.tmpl"] == "" {
		t.Fatalf("configmap: %+v", cm)
	}
	dir := t.TempDir()
	for k, v := range cm.Data {
		os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644)
	}
	var argv []string
	for _, a := range s.Template.Spec.Containers[0].Args {
		a = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", "2")
		a = strings.ReplaceAll(a, "/config/", dir+"/")
		argv = append(argv, a)
	}
	t.Setenv("MAILER_SMTP_PASSWORD", "secret")
	code, out, errs := runMailer(t, append(argv, "--print-config")...)
	if code != 0 {
		t.Fatalf("mailer %v: exit %d\n%s", argv, code, errs)
	}
	for _, want := range []string{
		"shard: 2/4  # flag", "results: /data/results/shard-2.csv  # flag",
		"rate: 100/s  # config", "shard 2/4 takes 25/s", "campaign: newsletter-2025-06  # config",
		"quota: 40000/day  # config", "shard 2/4 takes 10000/day",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q:\n%s", want, out)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestParallelExample runs examples/parallel.sh with GNU parallel: four
// "hosts" that an ssh stand-in runs on this machine, one relay. Every
// recipient is delivered once, the report covers the four shards, and a
// second run of the script does nothing (--resume-failed: none failed).
// NOTES_SHARDS_RUN=FILE saves the report.
func TestParallelExample(t *testing.T) {
	if _, err := exec.LookPath("parallel"); err != nil {
		t.Skip("GNU parallel is not installed (apt-get install parallel)")
	}
	bin := mailerBinary(t)
	relay := startTestRelay(t)
	root := t.TempDir()
	host, here := filepath.Join(root, "host"), filepath.Join(root, "here")
	os.MkdirAll(host, 0o755)
	os.MkdirAll(here, 0o755)
	list, supp, tmpl, sendable := shardList(t, host, 200)
	os.WriteFile(filepath.Join(host, "newsletter.yaml"), []byte(fmt.Sprintf(
		"list: %s\ntemplate: %s\nsuppress: [%s]\nrate: 200/s\nconcurrency: 8\nquiet: true\nrelays:\n  - url: smtp+plain://%s\n",
		filepath.Base(list), filepath.Base(tmpl), filepath.Base(supp), relay.Addr())), 0o644)
	ssh := filepath.Join(root, "localssh")
	os.WriteFile(ssh, []byte("#!/bin/sh\n# localssh HOST COMMAND: runs COMMAND here, as ssh would there\nshift\nexec sh -c \"$*\"\n"), 0o755)
	script, _ := filepath.Abs("../../examples/parallel.sh")
	runScript := func() string {
		cmd := exec.Command("sh", script)
		cmd.Dir = here
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"),
			"HOSTS=h0 h1 h2 h3", "CAMPAIGN=june", "DIR="+host, "SSH="+ssh)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("parallel.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	out := runScript()
	for _, e := range sendable {
		if n := relay.Received(e); n != 1 {
			t.Fatalf("%s reached the relay %d times", e, n)
		}
	}
	if !strings.Contains(out, "report: 4 files (results/june-shard-0.csv, results/june-shard-1.csv, results/june-shard-2.csv, results/june-shard-3.csv); 4 shards: 0/4 1/4 2/4 3/4\n") {
		t.Errorf("the report does not cover the four shards:\n%s", out)
	}
	if !strings.Contains(out, "recipients: 218\n") {
		t.Errorf("want 218 recipients (200 + 8 duplicates + 8 suppressed + 2 invalid):\n%s", out)
	}
	if p := os.Getenv("NOTES_SHARDS_RUN"); p != "" {
		os.WriteFile(p, []byte(out), 0o644)
	}
	runScript()
	if n := relay.Accepted(); n != int64(len(sendable)) {
		t.Errorf("after a second run the relay has %d messages, want %d", n, len(sendable))
	}
}
