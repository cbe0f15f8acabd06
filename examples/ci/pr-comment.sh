#!/bin/sh
# pr-comment.sh: the pull-request steps of mzsync's CI recipes, in plain
# POSIX shell so that GitHub Actions, GitLab CI and a laptop run the same
# thing (examples/ci/recipe_test.go runs it with a stub gh).
#
#   pr-comment.sh diff   validate the manifests, compare them with the base
#                        branch offline (mzsync diff --format markdown) and
#                        post the report as one comment on the pull request,
#                        updated on every later push. Exits 1 when the
#                        manifests are invalid or the diff finds an error
#                        (a released version was changed), so the check
#                        fails; 0 otherwise.
#   pr-comment.sh plan   mzsync plan --format markdown against the
#                        environment in MZSYNC_MATERIALIZE, posted as a
#                        second comment that is updated the same way.
#
# Environment:
#   MZSYNC_BASE     diff: the revision to compare with, e.g. origin/main (required)
#   MZSYNC_DIR      the manifest directory (default .)
#   MZSYNC_BIN      the mzsync binary (default mzsync on PATH)
#   MZSYNC_MATERIALIZE  plan: the Materialize URL (read by mzsync itself)
#   COMMENT_VIA     github, gitlab or none (default: github inside GitHub
#                   Actions, gitlab inside GitLab CI, none elsewhere: the
#                   comment is printed on stdout)
#   github: GH_REPO (owner/name) and PR_NUMBER; gh authenticates with GH_TOKEN.
#   gitlab: CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID (set by
#           GitLab), GITLAB_TOKEN (a token with the api scope); needs curl and jq.
#
# Each comment starts with a hidden marker (<!-- mzsync-diff --> or
# <!-- mzsync-plan -->); the script finds its earlier comment by it.
set -u

mode=${1:-diff}
mzsync=${MZSYNC_BIN:-mzsync}
dir=${MZSYNC_DIR:-.}
via=${COMMENT_VIA:-}
if [ -z "$via" ]; then
	if [ "${GITHUB_ACTIONS:-}" = true ]; then
		via=github
	elif [ "${GITLAB_CI:-}" = true ]; then
		via=gitlab
	else
		via=none
	fi
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
body=$tmp/body.md

# failure_body MARKER TITLE ERRFILE writes a comment that shows a failure.
failure_body() {
	{
		echo "$1"
		echo "### $2"
		echo
		echo '```text'
		sed 's/```/` ` `/g' "$3"
		echo '```'
	} >"$body"
}

status=0
case $mode in
diff)
	marker='<!-- mzsync-diff -->'
	base=${MZSYNC_BASE:?set MZSYNC_BASE to the revision to compare with, e.g. origin/main}
	if ! "$mzsync" validate --dir "$dir" >"$tmp/validate.out" 2>"$tmp/validate.err"; then
		cat "$tmp/validate.err" >&2
		failure_body "$marker" "mzsync diff: the manifests are not valid" "$tmp/validate.err"
		status=1
	else
		cat "$tmp/validate.out" >&2
		"$mzsync" diff --base "$base" --dir "$dir" --format markdown >"$body" 2>"$tmp/diff.err"
		rc=$?
		cat "$tmp/diff.err" >&2
		if [ "$rc" -ne 0 ]; then
			status=1
			if [ ! -s "$body" ]; then
				failure_body "$marker" "mzsync diff failed" "$tmp/diff.err"
			fi
		fi
	fi
	;;
plan)
	marker='<!-- mzsync-plan -->'
	{
		echo "$marker"
		"$mzsync" plan --dir "$dir" --format markdown 2>"$tmp/plan.err"
	} >"$body"
	rc=$?
	cat "$tmp/plan.err" >&2
	if [ "$rc" -ne 0 ]; then
		status=1
		failure_body "$marker" "mzsync plan failed" "$tmp/plan.err"
	fi
	;;
*)
	echo "usage: pr-comment.sh [diff|plan]" >&2
	exit 2
	;;
esac

# The job summary shows the report even when posting is not allowed (a
# pull request from a fork gets a read-only token).
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	cat "$body" >>"$GITHUB_STEP_SUMMARY"
fi

post_github() {
	: "${GH_REPO:?set GH_REPO to owner/name}" "${PR_NUMBER:?set PR_NUMBER to the pull request number}"
	gh api --paginate "repos/$GH_REPO/issues/$PR_NUMBER/comments" \
		--jq ".[] | select(.body | startswith(\"$marker\")) | .id" >"$tmp/ids" || return 1
	id=$(head -n 1 "$tmp/ids")
	if [ -n "$id" ]; then
		gh api --method PATCH "repos/$GH_REPO/issues/comments/$id" -F "body=@$body" >/dev/null
	else
		gh api --method POST "repos/$GH_REPO/issues/$PR_NUMBER/comments" -F "body=@$body" >/dev/null
	fi
}

post_gitlab() {
	: "${CI_API_V4_URL:?}" "${CI_PROJECT_ID:?}" "${CI_MERGE_REQUEST_IID:?}" "${GITLAB_TOKEN:?set GITLAB_TOKEN to a token with the api scope}"
	notes="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
	auth="PRIVATE-TOKEN: $GITLAB_TOKEN"
	curl -fsS --header "$auth" "$notes?per_page=100&sort=asc" >"$tmp/notes.json" || return 1
	jq -r --arg m "$marker" '.[] | select(.body | startswith($m)) | .id' "$tmp/notes.json" >"$tmp/ids" || return 1
	id=$(head -n 1 "$tmp/ids")
	if [ -n "$id" ]; then
		curl -fsS --request PUT --header "$auth" --data-urlencode "body@$body" "$notes/$id" >/dev/null
	else
		curl -fsS --request POST --header "$auth" --data-urlencode "body@$body" "$notes" >/dev/null
	fi
}

case $via in
github) post_github || echo "pr-comment.sh: could not post the comment (see above); the report is in the job log" >&2 ;;
gitlab) post_gitlab || echo "pr-comment.sh: could not post the note (see above); the report is in the job log" >&2 ;;
none) cat "$body" ;;
*)
	echo "pr-comment.sh: COMMENT_VIA must be github, gitlab or none, not $via" >&2
	exit 2
	;;
esac
if [ "$via" != none ]; then
	cat "$body" >&2
fi
exit "$status"
