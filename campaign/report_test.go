package campaign

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mailer-dev/mailer/address"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const resultsCSV = `email,status,code,enhanced_code,message,relay,attempts,message_id,time,line
a@example.com,delivered,250,2.0.0,OK,r,1,,2026-01-01T10:00:00Z,2
b@example.org,deferred,451,4.7.1,Try later,r,3,,2026-01-01T10:00:10Z,3
c@example.org,bounced,550,5.1.1,User unknown,r,1,,2026-01-01T10:00:05Z,4
A@EXAMPLE.com,suppressed,,,duplicate of line 2,,,,2026-01-01T10:00:05Z,5
d@example.net,bounced,550,5.1.1,No such user,r,1,,2026-01-01T10:00:06Z,6
bad,invalid,,,"address ""bad"": no angle-addr",,,,2026-01-01T10:00:06Z,7
b@example.org,delivered,250,2.0.0,OK,r,2,,2026-01-01T12:00:00Z,3
`

func TestBuildReport(t *testing.T) {
	p := writeFile(t, t.TempDir(), "r.csv", resultsCSV)
	r, err := BuildReport(p)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"rows", r.Rows, 7},
		{"recipients: the re-run replaces b's deferral, the duplicate stays its own row", r.Recipients, 6},
		{"superseded", r.Superseded, 1},
		{"statuses", r.Statuses, []StatusCount{{Delivered, 2, 2.0 / 6}, {Bounced, 2, 2.0 / 6}, {Invalid, 1, 1.0 / 6}, {Suppressed, 1, 1.0 / 6}}},
		{"sent", r.Sent, 4},
		{"delivery rate", r.DeliveryRate, 0.5},
		{"bounce rate", r.BounceRate, 0.5},
		{"codes, with the first message as sample", r.Codes, []CodeCount{{"250", 2, "OK"}, {"550", 2, "User unknown"}}},
		{"enhanced codes", r.EnhancedCodes, []CodeCount{{"2.0.0", 2, "OK"}, {"5.1.1", 2, "User unknown"}}},
		{"domains with bounces", r.Domains, []DomainCount{{"example.net", 1, 1, 0}, {"example.org", 2, 1, 0}}},
		{"attempts over every row", r.Attempts, Attempts{Total: 8, Max: 3, Retried: 2, PerSent: 2}},
		{"elapsed from the time column", r.Elapsed, 7200.0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestBuildReportErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := BuildReport(filepath.Join(dir, "none.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := writeFile(t, dir, "bad.csv", "email,status,time\na@example.com,delivered,yesterday\n")
	var de *DataError
	if _, err := BuildReport(p); !errors.As(err, &de) || de.Line != 2 {
		t.Errorf("bad time: %v, want a DataError at line 2", err)
	}
	empty := writeFile(t, dir, "empty.csv", "")
	if r, err := BuildReport(empty); err != nil || r.Recipients != 0 || r.Sent != 0 {
		t.Errorf("empty file: %+v, %v", r, err)
	}
}

// The report over a campaign's shard files is the report of one file with
// the same rows, and says which files and shards went in.
func TestBuildReportsOfShards(t *testing.T) {
	dir := t.TempDir()
	lines := strings.Split(strings.TrimSpace(resultsCSV), "\n")
	header := lines[0] + ",fingerprint"
	parts := make([][]string, 3)
	var all []string
	for _, l := range lines[1:] {
		email, _, _ := strings.Cut(l, ",")
		k := ShardOf(address.Key(email), 3)
		row := l + ",list=0123456789abcdef template=0123456789abcdef shard=" + Shard{K: k, N: 3}.String()
		parts[k] = append(parts[k], row)
	}
	var files []string
	for k, p := range parts {
		all = append(all, p...)
		files = append(files, writeFile(t, dir, fmt.Sprintf("shard-%d.csv", k), header+"\n"+strings.Join(p, "\n")+"\n"))
	}
	one, err := BuildReport(writeFile(t, dir, "one.csv", header+"\n"+strings.Join(all, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := BuildReports(files)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Files, files) {
		t.Errorf("files %v, want %v", got.Files, files)
	}
	if want := []string{"0/3", "1/3", "2/3"}; !reflect.DeepEqual(got.Shards, want) {
		t.Errorf("shards %v, want %v", got.Shards, want)
	}
	got.File, got.Files, one.File, one.Files = "", nil, "", nil
	if !reflect.DeepEqual(got, one) {
		t.Errorf("report of the shards\n%+v\nreport of one file\n%+v", got, one)
	}
	if one.Rows != 7 || one.Recipients != 6 {
		t.Errorf("rows %d, recipients %d", one.Rows, one.Recipients)
	}
	// An error names the file and its own line.
	bad := writeFile(t, dir, "bad.csv", lines[0]+"\na@example.com,delivered,250,,OK,r,1,,yesterday,2\n")
	var de *DataError
	if _, err := BuildReports([]string{files[0], bad}); !errors.As(err, &de) || de.File != bad || de.Line != 2 {
		t.Errorf("bad time in the second file: %v", err)
	}
}
