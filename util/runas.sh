#!/bin/sh
# runas.sh DATA CONF - give a data directory to berth.conf's run-as account.
#
# Called by util/mkconf.sh when it runs as root.  Started as root, berthd
# runs its workers, sweeper and directory process as berth.conf's `user`,
# and nginx's workers as the same account; berthctl run as root becomes it
# too.  This script makes that hold for the files:
#
#   - RUN_USER (util/run.sh sets berth) goes into a berth.conf that has no
#     `user` line at all: a new one gets it from mkconf.sh, an existing one
#     gets it appended once, with a note, and its signing key moved out of
#     auth/ (which the account now owns) to signer/ (root, 0700).  A
#     berth.conf with an explicit empty `user =` keeps root (berthd warns).
#   - the account is created when missing: a system account, its own
#     group, no shell, home /nonexistent;
#   - the store, state_dir, users_file, tokens_file, policy_file and the
#     directory that holds them (auth/) become the account's; the signing
#     key, its directory, run/ (sockets, pid file: berthd gives each socket
#     to the account itself), tls/, tls-private/ and berth.conf stay root's.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
data=$1
conf=$2

conf_get() { awk -v key="$1" -f "$top/util/conf-get.awk" "$conf"; }
say() { echo "mkconf: $*" >&2; }

if [ -n "${RUN_USER:-}" ] && ! grep -Eq '^[[:space:]]*user[[:space:]]*=' "$conf"; then
	key=$(conf_get signing_key)
	{
		echo
		echo "# Added by util/mkconf.sh, started as root: the workers run as $RUN_USER."
		echo "user           = $RUN_USER"
		if [ "$key" = "$data/auth/signing.pem" ]; then
			echo "# The signing key moved out of auth/, which $RUN_USER owns now."
			echo "signing_key    = $data/signer/signing.pem"
		fi
	} >>"$conf"
	if [ "$key" = "$data/auth/signing.pem" ]; then
		mkdir -p "$data/signer"
		chmod 0700 "$data/signer"
		[ ! -f "$key" ] || mv -f "$key" "$data/signer/signing.pem"
	fi
	say "$conf had no 'user': added 'user = $RUN_USER' (set 'user =' to keep root)"
fi

user=$(conf_get user)
[ -n "$user" ] || exit 0
if ! id -u "$user" >/dev/null 2>&1; then
	# (another mkconf may create it at the same time: then it exists)
	if useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$user"; then
		say "created the system account $user"
	else
		id -u "$user" >/dev/null
	fi
fi
group=$(id -gn "$user")

# The key's directory: root's alone (the signer, root, creates the key).
key=$(conf_get signing_key)
if [ -n "$key" ] && [ ! -d "$(dirname "$key")" ]; then
	mkdir -p "$(dirname "$key")"
	chmod 0700 "$(dirname "$key")"
fi

# own PATH...: what is not the account's yet becomes it (no -R: a large
# store is walked, not rewritten).
own() {
	for p in "$@"; do
		if [ -z "$p" ] || [ ! -e "$p" ]; then continue; fi
		find "$p" \( ! -user "$user" -o ! -group "$group" \) -exec chown -h "$user:$group" {} +
	done
}

store=$(conf_get store)
mkdir -p "$store"
# The workers append to access_log and audit_log: a directory of those
# inside the data directory ($data/log) becomes the account's.
for k in access_log audit_log; do
	f=$(conf_get "$k")
	case $(dirname "$f") in "$data"/*) own "$(dirname "$f")" ;; esac
done
own "$store" "$(conf_get state_dir)"
for k in users_file tokens_file policy_file; do
	f=$(conf_get "$k")
	[ -n "$f" ] || continue
	own "$f"
	d=$(dirname "$f")
	# The auth directory too (berthctl user add writes beside the file),
	# unless it holds the signing key: then the account could replace it.
	if [ -n "$key" ] && [ "$(dirname "$key")" = "$d" ]; then
		say "warning: $d holds the signing key $key, so it stays root's and" \
		    "berthctl user/token cannot write there as $user: move the key elsewhere"
	elif [ "$d" != "$data" ] && [ "$d" != / ]; then
		chown "$user:$group" "$d"
	fi
done
