# common.sh - shared helpers for the bench scripts (sourced, not run).
# The sink is Postfix's smtp-sink started by bench/sink.sh, which installs
# Postfix when smtp-sink or smtp-source is missing; nothing outside the
# repository is used but those two programs.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SINKSH=${SINKSH:-$ROOT/bench/sink.sh}
"$SINKSH" install

# build_mailer DIR: build the mailer binary into DIR/mailer.
build_mailer() { (cd "$ROOT" && go build -o "$1/mailer" ./cmd/mailer); }

# gen_list FILE N: a list of N recipients, all on *.sink.test (never resolvable; the relay is loopback).
gen_list() {
  awk -v n="$2" 'BEGIN {
    print "email,first_name,name,plan,city"
    split("free pro team enterprise", plans, " "); split("Oslo Lyon Porto Graz Turku Ghent", cities, " ")
    for (i = 1; i <= n; i++)
      printf "user%07d@d%d.sink.test,First%d,First%d Last%d,%s,%s\n", i, i % 97, i, i, i, plans[i % 4 + 1], cities[i % 6 + 1]
  }' > "$1"
}

# gen_template FILE: a text template whose rendered message is about 4.3 KB
# (the same size on the wire as smtp-source -l 4096: headers plus 4096 bytes).
gen_template() {
  {
    echo 'From: Bench <bench@sender.test>'
    echo 'Subject: {{.first_name}}, your {{.plan}} digest'
    echo
    echo 'Hi {{.first_name}} from {{.city}},'
    echo
    for i in $(seq 1 60); do
      echo "Line $i of the {{.plan}} digest for {{.name}}: lorem ipsum dolor."
    done
    echo
    echo 'Bye {{.first_name}}.'
  } > "$1"
}

median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print 0; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }
