#!/bin/sh
# Run one campaign as N shards on N hosts with GNU parallel over ssh, then
# gather the results and report them as one campaign.
#
#   HOSTS="mail1 mail2 mail3 mail4" CAMPAIGN=newsletter-2025-06 sh examples/parallel.sh
#
# Shard K always runs on the K-th host, so its results file, which is what
# it resumes from, stays where it is. Each host has mailer, the config, the
# list and the template in DIR. Run the script again (cron can) to retry
# what did not finish: --resume-failed reruns, from the joblog, only the
# shards whose last run failed (exit 75: deferred recipients or the daily
# quota used), and each resumes its own results file.
set -eu
HOSTS=${HOSTS:?set HOSTS to the hosts, one per shard}
CAMPAIGN=${CAMPAIGN:?set CAMPAIGN to the name of the campaign}
DIR=${DIR:-/srv/newsletter}     # on every host
CONFIG=${CONFIG:-newsletter.yaml}
SSH=${SSH:-ssh}                 # the command that runs a command on a host
N=$(echo $HOSTS | wc -w)

status=0
parallel --link --jobs "$N" --joblog "shards-$CAMPAIGN.joblog" --resume-failed \
	"$SSH" {1} "'cd $DIR && mailer send --config $CONFIG --campaign $CAMPAIGN --shard {2}/$N --results results/$CAMPAIGN-shard-{2}.csv'" \
	::: $HOSTS ::: $(seq 0 $((N - 1))) || status=$?

# Gather every shard's results, finished or not, and report them as one.
mkdir -p results
k=0
for h in $HOSTS; do
	$SSH "$h" "cat $DIR/results/$CAMPAIGN-shard-$k.csv" >"results/$CAMPAIGN-shard-$k.csv" || status=1
	k=$((k + 1))
done
mailer report "results/$CAMPAIGN-shard-*.csv"
exit $status
