# conf-get.awk - the value of one key of berth.conf, read by the rules of
# util/config.c, for the shell scripts (util/mkconf.sh, util/run.sh,
# tests/lib.sh):  awk -v key=KEY -f util/conf-get.awk berth.conf
#
# '#' lines are comments; a '#' after a blank ends an unquoted value; a
# "quoted value" keeps every character, with \" and \\ standing for " and
# \.  The last line with the key wins; no line: empty output.
/^[ \t]*(#|\r?$)/ { next }
{
	i = index($0, "=")
	if (i == 0) next
	k = substr($0, 1, i - 1); v = substr($0, i + 1)
	gsub(/^[ \t]+|[ \t]+$/, "", k); sub(/^[ \t]+/, "", v)
	if (substr(v, 1, 1) == "\"") {
		q = ""
		for (j = 2; j <= length(v); j++) {
			c = substr(v, j, 1)
			if (c == "\"") break
			if (c == "\\") c = substr(v, ++j, 1)
			q = q c
		}
		v = q
	} else {
		if (v ~ /^#/) v = ""
		sub(/[ \t]#.*/, "", v); sub(/[ \t\r]+$/, "", v)
	}
	if (k == key) val = v
}
END { print val }
