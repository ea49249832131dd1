// Bad values, each asserting the exact FILE:LINE:COL and message the operator sees.
// Each row would be accepted (or reported differently) if its check were removed.
#include <catch2/catch.hpp>

#include "tests/unit/config/helpers.h"

using goodcop::test::errors_of;
using goodcop::test::kBase;

namespace {

struct Case {
  const char* what;
  std::string text;
  std::vector<std::string> expect;
};

void run_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO(c.what << "\n--- text ---\n" << c.text);
    CHECK(errors_of(c.text) == c.expect);
  }
}

}  // namespace

TEST_CASE("keys: unknown, misspelt, duplicated, missing, wrong shape", "[config]") {
  run_cases({
      {"misspelt dotted key",
       kBase + "exec.strat: [/x]\n",
       {"p.yaml:4:1: unknown key 'exec.strat' (did you mean 'exec.start'?)"}},
      {"misspelt nested key",
       kBase + "watch:\n  intervall: 5s\n",
       {"p.yaml:5:3: unknown key 'watch.intervall' (did you mean 'watch.interval'?)"}},
      {"misspelt group",
       kBase + "limit: {pids: 5}\n",
       {"p.yaml:4:1: unknown key 'limit' (did you mean 'limits'?)"}},
      {"unknown key, nothing close", kBase + "colour: red\n", {"p.yaml:4:1: unknown key 'colour'"}},
      {"duplicate key", kBase + "name: x\n", {"p.yaml:4:1: duplicate key 'name' (first at 1:1)"}},
      {"same key in dotted and nested form",
       kBase + "exec.start: [/bin/true]\n",
       {"p.yaml:4:1: duplicate key 'exec.start' (first at 3:8)"}},
      {"duplicate group",
       kBase + "exec: {cwd: /}\n",
       {"p.yaml:4:1: duplicate key 'exec' (first at 3:1)"}},
      {"group given a scalar",
       "name: w\npath: /srv/w\nexec: /bin/sh\n",
       {"p.yaml:3:7: exec: expected a mapping, got a string"}},
      {"missing name and path",
       "exec: {start: [/bin/sh]}\n",
       {"p.yaml:1:1: missing required key 'name'", "p.yaml:1:1: missing required key 'path'"}},
      {"missing exec.start",
       "name: w\npath: /srv/w\n",
       {"p.yaml:1:1: missing required key 'exec.start'"}},
      {"null value",
       "name:\npath: /srv/w\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:1:1: name: expected a string, got null"}},
      {"every error of a file, in reading order",
       "name: W\npath: srv\nexec: {start: [sh]}\nwatch.interval: 0s\n",
       {"p.yaml:1:7: name: expected 1 to 31 lower-case letters, digits or '-', starting with a "
        "letter or digit, got 'W'",
        "p.yaml:2:7: path: expected an absolute path, got 'srv'",
        "p.yaml:3:16: exec.start: expected the program as an absolute path, got 'sh'",
        "p.yaml:4:17: watch.interval: expected a duration from 1s to 1h, got '0s'"}},
  });
}

TEST_CASE("names, hostnames and paths", "[config]") {
  const std::string tail = "path: /srv/w\nexec: {start: [/bin/sh]}\n";
  run_cases({
      {"upper-case name",
       "name: Web_1\n" + tail,
       {"p.yaml:1:7: name: expected 1 to 31 lower-case letters, digits or '-', starting with a "
        "letter or digit, got 'Web_1'"}},
      {"32-character name",
       "name: abcdefghijklmnopqrstuvwxyz012345\n" + tail,
       {"p.yaml:1:7: name: expected 1 to 31 lower-case letters, digits or '-', starting with a "
        "letter or digit, got 'abcdefghijklmnopqrstuvwxyz012345'"}},
      {"name starting with '-'",
       "name: -w\n" + tail,
       {"p.yaml:1:7: name: expected 1 to 31 lower-case letters, digits or '-', starting with a "
        "letter or digit, got '-w'"}},
      {"hostname label starting with '-'",
       kBase + "hostname: -bad.example\n",
       {"p.yaml:4:11: hostname: expected an RFC 1123 host name of at most 64 characters, got "
        "'-bad.example'"}},
      {"hostname with an underscore",
       kBase + "hostname: a_b\n",
       {"p.yaml:4:11: hostname: expected an RFC 1123 host name of at most 64 characters, got "
        "'a_b'"}},
      {"hostname of 65 characters",
       kBase + "hostname: " + std::string(32, 'a') + "." + std::string(32, 'b') + "\n",
       {"p.yaml:4:11: hostname: expected an RFC 1123 host name of at most 64 characters, got '" +
        std::string(32, 'a') + "." + std::string(32, 'b') + "'"}},
      {"hostname given a list",
       kBase + "hostname: [a]\n",
       {"p.yaml:4:11: hostname: expected a string, got a list"}},
      {"default hostname from a name ending in '-'",
       "name: w-\n" + tail,
       {"p.yaml:1:7: name: 'w-' is not a valid host name; set hostname"}},
      {"relative path",
       "name: w\npath: srv/w\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:2:7: path: expected an absolute path, got 'srv/w'"}},
      {"path with '..'",
       "name: w\npath: /srv/../etc\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:2:7: path: '/srv/../etc' contains '..'"}},
      {"path '/'",
       "name: w\npath: /\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:2:7: path: must not be '/'"}},
      {"path with a trailing '/'",
       "name: w\npath: /srv/w/\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:2:7: path: '/srv/w/' is not normalized (trailing '/')"}},
      {"path with '//'",
       "name: w\npath: /srv//w\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:2:7: path: '/srv//w' is not normalized (empty component)"}},
      {"path with '.'",
       "name: w\npath: /srv/./w\nexec: {start: [/bin/sh]}\n",
       {"p.yaml:2:7: path: '/srv/./w' is not normalized ('.' component)"}},
      {"description over two lines",
       kBase + "description: \"a\\nb\"\n",
       {"p.yaml:4:14: description: expected one line of at most 200 characters"}},
  });
}

TEST_CASE("addresses and network", "[config]") {
  run_cases({
      {"octet above 255",
       kBase + "ip4: 198.18.0.256\n",
       {"p.yaml:4:6: ip4: expected an IPv4 address such as 198.18.0.2 or 198.18.0.2/24, got "
        "'198.18.0.256'"}},
      {"leading zero in an octet",
       kBase + "ip4: 198.018.0.2\n",
       {"p.yaml:4:6: ip4: expected an IPv4 address such as 198.18.0.2 or 198.18.0.2/24, got "
        "'198.018.0.2'"}},
      {"prefix too long",
       kBase + "ip4: [198.18.0.2/33]\n",
       {"p.yaml:4:7: ip4: expected a prefix length from 1 to 32, got '198.18.0.2/33'"}},
      {"prefix with a leading zero",
       kBase + "ip4: 198.18.0.2/024\n",
       {"p.yaml:4:6: ip4: expected a prefix length from 1 to 32, got '198.18.0.2/024'"}},
      {"IPv6 address in ip4",
       kBase + "ip4: 2001:db8::1\n",
       {"p.yaml:4:6: ip4: '2001:db8::1' is an IPv6 address (it belongs in ip6)"}},
      {"IPv4 address in ip6",
       kBase + "ip6: 198.18.0.2\n",
       {"p.yaml:4:6: ip6: '198.18.0.2' is an IPv4 address (it belongs in ip4)"}},
      {"loopback",
       kBase + "ip4: 127.0.0.2\n",
       {"p.yaml:4:6: ip4: '127.0.0.2' is a loopback address, not usable by a jail"}},
      {"network address of its prefix",
       kBase + "ip4: 198.18.0.0/24\n",
       {"p.yaml:4:6: ip4: '198.18.0.0/24' is the network address of its prefix, not usable by a "
        "jail"}},
      {"broadcast address of its prefix",
       kBase + "ip4: 198.18.0.255/24\n",
       {"p.yaml:4:6: ip4: '198.18.0.255/24' is the broadcast address of its prefix, not usable "
        "by a jail"}},
      {"multicast",
       kBase + "ip4: 224.0.0.1\n",
       {"p.yaml:4:6: ip4: '224.0.0.1' is a multicast address, not usable by a jail"}},
      {"IPv6 link-local",
       kBase + "ip6: fe80::1\n",
       {"p.yaml:4:6: ip6: 'fe80::1' is a link-local address, not usable by a jail"}},
      {"IPv6 zone index",
       kBase + "ip6: 2001:db8::1%eth0\n",
       {"p.yaml:4:6: ip6: expected an IPv6 address such as 2001:db8::2 or 2001:db8::2/64, got "
        "'2001:db8::1%eth0'"}},
      {"IPv4-mapped IPv6",
       kBase + "ip6: '::ffff:198.18.0.2'\n",
       {"p.yaml:4:6: ip6: '::ffff:198.18.0.2' is an IPv4-mapped address, not usable by a jail"}},
      {"empty address list",
       kBase + "ip4: []\n",
       {"p.yaml:4:6: ip4: expected a list of IPv4 addresses, got an empty list"}},
      {"address listed twice",
       kBase + "ip4: [198.18.0.2/24, 198.18.0.2]\n",
       {"p.yaml:4:22: ip4[1]: address 198.18.0.2 is listed twice (first at 4:7)"}},
      {"veth without addresses",
       kBase + "network: veth\n",
       {"p.yaml:4:10: network: veth needs at least one address in ip4 or ip6"}},
      {"none with addresses",
       kBase + "network: none\nip4: 198.18.0.2\n",
       {"p.yaml:4:10: network: none cannot have addresses; remove ip4 and ip6 or use veth"}},
      {"host with addresses",
       kBase + "network: host\nip6: 2001:db8::2\n",
       {"p.yaml:4:10: network: host shares the host's network and cannot have addresses"}},
      {"unknown network",
       kBase + "network: vnet\n",
       {"p.yaml:4:10: network: expected none, veth or host, got 'vnet'"}},
  });
}

TEST_CASE("exec: argv, user, env, cwd, init", "[config]") {
  const std::string head = "name: w\npath: /srv/w\n";
  run_cases({
      {"empty argv",
       head + "exec: {start: []}\n",
       {"p.yaml:3:15: exec.start: expected a list of arguments, got an empty list"}},
      {"argv as one string",
       head + "exec: {start: /usr/sbin/nginx -g x}\n",
       {"p.yaml:3:15: exec.start: expected a list of arguments such as [/usr/sbin/nginx, -g, "
        "'daemon off;'], got a string"}},
      {"relative program",
       head + "exec: {start: [nginx]}\n",
       {"p.yaml:3:16: exec.start: expected the program as an absolute path, got 'nginx'"}},
      {"empty argument",
       head + "exec: {start: [/bin/sh, '']}\n",
       {"p.yaml:3:25: exec.start: argument 1 is empty"}},
      {"nested list as argument",
       head + "exec: {start: [/bin/sh, [x]]}\n",
       {"p.yaml:3:25: exec.start: expected a string, got a list"}},
      {"program with '..'",
       head + "exec: {start: [/bin/../sh]}\n",
       {"p.yaml:3:16: exec.start: '/bin/../sh' contains '..'"}},
      {"bad user name",
       kBase + "exec.user: Www\n",
       {"p.yaml:4:12: exec.user: expected a user name ([a-z_][a-z0-9_-]*, at most 32) or a uid, "
        "got 'Www'"}},
      {"uid -1",
       kBase + "exec.user: 4294967295\n",
       {"p.yaml:4:12: exec.user: expected a uid from 0 to 4294967294, got '4294967295'"}},
      {"bad variable name",
       kBase + "exec.env: {1X: y}\n",
       {"p.yaml:4:12: exec.env: expected a variable name ([A-Za-z_][A-Za-z0-9_]*), got '1X'"}},
      {"variable given a list",
       kBase + "exec.env: {X: [y]}\n",
       {"p.yaml:4:15: exec.env: expected a string value for 'X', got a list"}},
      {"env as a list",
       kBase + "exec.env: [X=y]\n",
       {"p.yaml:4:11: exec.env: expected a mapping of NAME: value, got a list"}},
      {"relative cwd",
       kBase + "exec.cwd: var/www\n",
       {"p.yaml:4:11: exec.cwd: expected an absolute path, got 'var/www'"}},
      {"unknown init",
       kBase + "exec.init: systemd\n",
       {"p.yaml:4:12: exec.init: expected goodcop or jail, got 'systemd'"}},
      {"stop.timeout too long",
       kBase + "stop.timeout: 11m\n",
       {"p.yaml:4:15: stop.timeout: expected a duration from 1s to 10m, got '11m'"}},
  });
}

TEST_CASE("watch: durations, globs, booleans", "[config]") {
  run_cases({
      {"duration with a space",
       kBase + "watch:\n  interval: 5 seconds\n",
       {"p.yaml:5:13: watch.interval: expected a duration such as 500ms, 5s, 2m, 1h or 1d, got "
        "'5 seconds'"}},
      {"interval above 1h",
       kBase + "watch: {interval: 2h}\n",
       {"p.yaml:4:19: watch.interval: expected a duration from 1s to 1h, got '2h'"}},
      {"interval below 1s",
       kBase + "watch: {interval: 500ms}\n",
       {"p.yaml:4:19: watch.interval: expected a duration from 1s to 1h, got '500ms'"}},
      {"negative duration",
       kBase + "watch: {interval: -5s}\n",
       {"p.yaml:4:19: watch.interval: expected a duration such as 500ms, 5s, 2m, 1h or 1d, got "
        "'-5s'"}},
      {"full_every shorter than interval",
       kBase + "watch: {interval: 10m, full_every: 5m}\n",
       {"p.yaml:4:36: watch.full_every: watch.full_every (5m) must not be shorter than "
        "watch.interval (10m)"}},
      {"empty glob",
       kBase + "watch: {ignore: ['']}\n",
       {"p.yaml:4:18: watch.ignore: expected a glob pattern, got an empty string"}},
      {"glob with '..'",
       kBase + "watch: {ignore: [/var/../etc/*]}\n",
       {"p.yaml:4:18: watch.ignore: '/var/../etc/*' contains a '..' component"}},
      {"'**' inside a component",
       kBase + "watch: {ignore: [/var/log**]}\n",
       {"p.yaml:4:18: watch.ignore: '/var/log**': '**' must be a whole path component"}},
      {"unclosed bracket",
       kBase + "watch: {ignore: ['/var/[log']}\n",
       {"p.yaml:4:18: watch.ignore: '/var/[log' has an unclosed '['"}},
      {"glob ignoring everything",
       kBase + "watch: {ignore: ['/**']}\n",
       {"p.yaml:4:18: watch.ignore: '/**' would ignore the whole jail"}},
      {"glob with an empty component",
       kBase + "watch: {ignore: ['/var//log']}\n",
       {"p.yaml:4:18: watch.ignore: '/var//log' has an empty path component"}},
      {"yes is not a boolean",
       kBase + "watch: {triggers: yes}\n",
       {"p.yaml:4:19: watch.triggers: expected true or false, got 'yes'"}},
      {"quoted boolean",
       kBase + "watch: {triggers: 'true'}\n",
       {"p.yaml:4:19: watch.triggers: expected true or false without quotes, got '\"true\"'"}},
  });
}

TEST_CASE("keep, mounts, golden, evidence", "[config]") {
  run_cases({
      {"keep '/'", kBase + "keep: [/]\n", {"p.yaml:4:8: keep: must not be '/'"}},
      {"keep listed twice",
       kBase + "keep: [/data, /data]\n",
       {"p.yaml:4:15: keep[1]: '/data' is listed twice (keep[0] at 4:8)"}},
      {"keep nested",
       kBase + "keep: [/var/lib, /var/lib/mysql]\n",
       {"p.yaml:4:18: keep[1]: '/var/lib/mysql' and '/var/lib' are nested (keep[0] at 4:8)"}},
      {"keep relative",
       kBase + "keep: var/lib/mysql\n",
       {"p.yaml:4:7: keep: expected an absolute path, got 'var/lib/mysql'"}},
      {"mount without target",
       kBase + "mounts: [{source: /srv/x}]\n",
       {"p.yaml:4:10: missing key 'mounts[0].target'"}},
      {"mount key given twice",
       kBase + "mounts: [{source: /a, source: /b, target: /c}]\n",
       {"p.yaml:4:23: duplicate key 'mounts[0].source' (first at 4:11)"}},
      {"mount entry not a mapping",
       kBase + "mounts: [/a]\n",
       {"p.yaml:4:10: mounts: expected a mapping with source, target and mode, got a string"}},
      {"mount with a misspelt key",
       kBase + "mounts: [{source: /a, target: /b, mdoe: ro}]\n",
       {"p.yaml:4:35: unknown key 'mounts[0].mdoe' (did you mean 'mounts[0].mode'?)"}},
      {"mount mode",
       kBase + "mounts: [{source: /a, target: /b, mode: rwx}]\n",
       {"p.yaml:4:41: mounts[0].mode: expected ro or rw, got 'rwx' (did you mean 'rw'?)"}},
      {"mount of the host root",
       kBase + "mounts: [{source: /, target: /host}]\n",
       {"p.yaml:4:19: mounts[0].source: '/' would give the jail the whole host"}},
      {"mount over a kept path",
       kBase + "keep: [/data]\nmounts: [{source: /a, target: /data/x}]\n",
       {"p.yaml:5:31: mounts[0].target: '/data/x' overlaps keep '/data'"}},
      {"mount of the jail's evidence",
       kBase + "mounts: [{source: /var/lib/goodcop/evidence, target: /e}]\n",
       {"p.yaml:4:19: mounts[0].source: '/var/lib/goodcop/evidence' overlaps evidence.dir "
        "'/var/lib/goodcop/evidence/w'"}},
      {"evidence inside the jail",
       kBase + "evidence: {dir: /srv/w/evidence}\n",
       {"p.yaml:4:17: evidence.dir: '/srv/w/evidence' overlaps path '/srv/w'"}},
      {"golden inside the jail",
       kBase + "golden: /srv/w/golden\n",
       {"p.yaml:4:9: golden: '/srv/w/golden' overlaps path '/srv/w'"}},
      {"signing key inside the jail",
       kBase + "evidence: {sign_key: /srv/w/key.pem}\n",
       {"p.yaml:4:22: evidence.sign_key: '/srv/w/key.pem' is inside the jail path '/srv/w'"}},
      {"evidence.keep 0",
       kBase + "evidence: {keep: 0}\n",
       {"p.yaml:4:18: evidence.keep: expected an integer from 1 to 10000, got '0'"}},
      {"evidence.keep too high",
       kBase + "evidence: {keep: 10001}\n",
       {"p.yaml:4:18: evidence.keep: expected an integer from 1 to 10000, got '10001'"}},
      {"on_tamper typo",
       kBase + "on_tamper: heel\n",
       {"p.yaml:4:12: on_tamper: expected heal, freeze or alert, got 'heel' (did you mean "
        "'heal'?)"}},
      {"storage",
       kBase + "storage: zfs\n",
       {"p.yaml:4:10: storage: expected overlay or plain, got 'zfs'"}},
      {"restart.max 0",
       kBase + "restart: {max: 0}\n",
       {"p.yaml:4:16: restart.max: expected an integer from 1 to 1000, got '0'"}},
  });
}

TEST_CASE("limits, userns, capabilities", "[config]") {
  run_cases({
      {"memory below 4M",
       kBase + "limits: {memory: 1M}\n",
       {"p.yaml:4:18: limits.memory: expected at least 4M, got '1M'"}},
      {"memory in MB",
       kBase + "limits: {memory: 512MB}\n",
       {"p.yaml:4:18: limits.memory: expected a size such as 4096, 64K, 512M, 2G or 1T, got "
        "'512MB'"}},
      {"memory overflowing",
       kBase + "limits: {memory: 99999999999T}\n",
       {"p.yaml:4:18: limits.memory: size is too large, got '99999999999T'"}},
      {"pids 0",
       kBase + "limits: {pids: 0}\n",
       {"p.yaml:4:16: limits.pids: expected an integer from 1 to 4194304, got '0'"}},
      {"pids above the kernel's limit",
       kBase + "limits: {pids: 4194305}\n",
       {"p.yaml:4:16: limits.pids: expected an integer from 1 to 4194304, got '4194305'"}},
      {"quoted pids",
       kBase + "limits: {pids: '5'}\n",
       {"p.yaml:4:16: limits.pids: expected an integer without quotes, got '\"5\"'"}},
      {"negative pids",
       kBase + "limits: {pids: -1}\n",
       {"p.yaml:4:16: limits.pids: expected a non-negative integer, got '-1'"}},
      {"cpu as a fraction",
       kBase + "limits: {cpu: 1/2}\n",
       {"p.yaml:4:15: limits.cpu: expected a number of CPUs such as 0.5, 1 or 2.25 (at most 3 "
        "decimals), got '1/2'"}},
      {"cpu without a leading digit",
       kBase + "limits: {cpu: .5}\n",
       {"p.yaml:4:15: limits.cpu: expected a number of CPUs such as 0.5, 1 or 2.25 (at most 3 "
        "decimals), got '.5'"}},
      {"cpu in scientific notation",
       kBase + "limits: {cpu: 1e3}\n",
       {"p.yaml:4:15: limits.cpu: expected a number of CPUs such as 0.5, 1 or 2.25 (at most 3 "
        "decimals), got '1e3'"}},
      {"cpu below 0.01",
       kBase + "limits: {cpu: 0.001}\n",
       {"p.yaml:4:15: limits.cpu: expected from 0.01 to 1024 CPUs, got '0.001'"}},
      {"cpu in percent",
       kBase + "limits: {cpu: 50%}\n",
       {"p.yaml:4:15: limits.cpu: expected a number of CPUs such as 0.5, 1 or 2.25 (at most 3 "
        "decimals), got '50%'"}},
      {"disk",
       kBase + "limits: {disk: lots}\n",
       {"p.yaml:4:16: limits.disk: expected a size such as 4096, 64K, 512M, 2G or 1T, got "
        "'lots'"}},
      {"userns no",
       kBase + "userns: no\n",
       {"p.yaml:4:9: userns: expected true or false, got 'no'"}},
      {"misspelt capability",
       kBase + "capabilities: [CAP_NET_BIND_SERVIC]\n",
       {"p.yaml:4:16: capabilities: unknown capability 'CAP_NET_BIND_SERVIC' (did you mean "
        "'CAP_NET_BIND_SERVICE'?)"}},
      {"capability that escapes",
       kBase + "capabilities: [CAP_SYS_ADMIN]\n",
       {"p.yaml:4:16: capabilities: capability 'CAP_SYS_ADMIN' is not allowed in a jail "
        "(mount, namespaces and much of the kernel)"}},
      {"open_by_handle_at capability",
       kBase + "capabilities: CAP_DAC_READ_SEARCH\n",
       {"p.yaml:4:15: capabilities: capability 'CAP_DAC_READ_SEARCH' is not allowed in a jail "
        "(open_by_handle_at escapes the root (\"shocker\", 2014))"}},
      {"capability listed twice",
       kBase + "capabilities: [CAP_CHOWN, CAP_CHOWN]\n",
       {"p.yaml:4:27: capabilities: capability 'CAP_CHOWN' is listed twice"}},
  });
}
