// Every key of the schema accepted in each of its forms, with its defaults.
#include <algorithm>
#include <catch2/catch.hpp>

#include "base/fd.h"
#include "config/policy.h"
#include "tests/support/support.h"
#include "tests/unit/config/helpers.h"

using namespace goodcop::config;
using goodcop::test::kBase;
using goodcop::test::valid;
using std::chrono::milliseconds;

TEST_CASE("the smallest policy gets every default", "[config]") {
  Policy p = valid(kBase);
  CHECK(p.name == "w");
  CHECK(p.path == "/srv/w");
  CHECK(p.hostname == "w");
  CHECK(p.exec.start == std::vector<std::string>{"/bin/sh"});
  CHECK(p.exec.stop.empty());
  CHECK(p.exec.user.str() == "root");
  CHECK(p.exec.cwd == "/");
  CHECK(p.exec.init == Init::goodcop);
  CHECK(p.network == Network::none);
  CHECK(p.golden == "/var/lib/goodcop/golden/w");
  CHECK(p.storage == Storage::overlay);
  CHECK(p.watch.interval == milliseconds(5000));
  CHECK(p.watch.full_every == milliseconds(3'600'000));
  CHECK(p.watch.triggers);
  CHECK(p.watch.ignore.empty());
  CHECK(p.keep.empty());
  CHECK(p.mounts.empty());
  CHECK(!p.limits.memory);
  CHECK(!p.limits.pids);
  CHECK(!p.limits.cpu_milli);
  CHECK(!p.limits.disk);
  CHECK(p.userns);
  CHECK(p.capabilities.empty());
  CHECK(p.on_tamper == OnTamper::heal);
  CHECK(p.evidence.dir == "/var/lib/goodcop/evidence/w");
  CHECK(p.evidence.keep == 20);
  CHECK(p.evidence.sign_key.empty());
  CHECK(p.stop_timeout == milliseconds(10'000));
  CHECK(p.restart.backoff == milliseconds(1000));
  CHECK(p.restart.max == 5);
  CHECK(p.description.empty());
}

TEST_CASE("name, description, path and hostname", "[config]") {
  Policy p = valid(
      "name: 0-web-1\ndescription: 'ACME: plan M #4'\npath: /srv/jails/web1\n"
      "hostname: Web1.Example.NET\nexec: {start: [/bin/sh]}\n");
  CHECK(p.name == "0-web-1");
  CHECK(p.description == "ACME: plan M #4");
  CHECK(p.hostname == "Web1.Example.NET");
  CHECK(valid("name: abcdefghijklmnopqrstuvwxyz01234\npath: /j\nexec: {start: [/bin/sh]}\n")
            .name.size() == 31);
  std::string label63(63, 'a');
  CHECK(valid(kBase + "hostname: " + label63 + "\n").hostname == label63);
}

TEST_CASE("ip4 and ip6 take one address or a list, with or without a prefix", "[config]") {
  Policy one = valid(kBase + "ip4: 198.18.0.2\n");
  REQUIRE(one.ip4.size() == 1);
  CHECK(one.ip4[0].str() == "198.18.0.2/32");
  CHECK(one.network == Network::veth);

  Policy many = valid(kBase +
                      "ip4: [198.18.0.2/24, 198.19.255.254/15]\n"
                      "ip6:\n  - 2001:db8::2\n  - 2001:DB8:0:1::2/64\n");
  REQUIRE(many.ip4.size() == 2);
  CHECK(many.ip4[0].str() == "198.18.0.2/24");
  CHECK(many.ip4[1].str() == "198.19.255.254/15");
  REQUIRE(many.ip6.size() == 2);
  CHECK(many.ip6[0].str() == "2001:db8::2/128");
  CHECK(many.ip6[1].str() == "2001:db8:0:1::2/64");
  CHECK(many.ip6[1].addr_str() == "2001:db8:0:1::2");
  CHECK(valid(kBase + "ip4: 198.18.0.1/31\n").ip4[0].prefix == 31);
  CHECK(valid(kBase + "ip6: 2001:db8::5/127\n").ip6[0].prefix == 127);
}

TEST_CASE("network: defaults follow the addresses, each value accepted", "[config]") {
  CHECK(valid(kBase).network == Network::none);
  CHECK(valid(kBase + "network: none\n").network == Network::none);
  CHECK(valid(kBase + "network: host\n").network == Network::host);
  CHECK(valid(kBase + "ip6: 2001:db8::9\nnetwork: veth\n").network == Network::veth);
  CHECK(valid(kBase + "ip6: 2001:db8::9\n").network == Network::veth);
}

TEST_CASE("exec: nested and dotted forms, user, env, cwd, init, stop", "[config]") {
  const std::string head = "name: w\npath: /srv/w\n";
  Policy nested = valid(head +
                        "exec:\n  start: [/usr/sbin/nginx, -g, 'daemon off;']\n"
                        "  stop: [/usr/sbin/nginx, -s, quit]\n  user: www-data\n"
                        "  env: {LANG: C.UTF-8, _X1: '', PORT: 8080}\n  cwd: /var/www\n");
  CHECK(nested.exec.start == std::vector<std::string>{"/usr/sbin/nginx", "-g", "daemon off;"});
  CHECK(nested.exec.stop == std::vector<std::string>{"/usr/sbin/nginx", "-s", "quit"});
  CHECK(nested.exec.user.name == "www-data");
  CHECK(!nested.exec.user.uid);
  REQUIRE(nested.exec.env.size() == 3);
  CHECK(nested.exec.env[0] == std::pair<std::string, std::string>{"LANG", "C.UTF-8"});
  CHECK(nested.exec.env[1] == std::pair<std::string, std::string>{"_X1", ""});
  CHECK(nested.exec.env[2] == std::pair<std::string, std::string>{"PORT", "8080"});
  CHECK(nested.exec.cwd == "/var/www");

  // jail.conf writes exec.start on one line: the dotted key is the same key.
  Policy dotted = valid(head + "exec.start: [/bin/true]\nexec.user: 33\n");
  CHECK(dotted.exec.start == std::vector<std::string>{"/bin/true"});
  REQUIRE(dotted.exec.user.uid);
  CHECK(*dotted.exec.user.uid == 33);
  CHECK(valid(head + "exec.start: [/bin/true]\nexec.user: '4294967294'\n").exec.user.uid ==
        4294967294u);
  CHECK(valid(head + "exec.start: [/bin/true]\nexec.user: _apt\n").exec.user.name == "_apt");

  Policy init = valid(head + "exec: {init: jail}\n");
  CHECK(init.exec.init == Init::jail);
  CHECK(init.exec.start == std::vector<std::string>{"/sbin/init"});
  CHECK(valid(head + "exec: {init: jail, start: [/lib/systemd/systemd]}\n").exec.start[0] ==
        "/lib/systemd/systemd");
  CHECK(valid(head + "exec: {init: goodcop, start: [/bin/sh]}\n").exec.init == Init::goodcop);
  CHECK(valid(kBase + "stop: {timeout: 2m}\n").stop_timeout == milliseconds(120'000));
  CHECK(valid(kBase + "stop.timeout: 1s\n").stop_timeout == milliseconds(1000));
}

TEST_CASE("golden, storage and the watch keys", "[config]") {
  Policy p = valid(kBase +
                   "golden: /var/golden/w\nstorage: plain\nwatch:\n  interval: '1s'\n"
                   "  full_every: 7d\n  ignore: [var/log/**, /tmp/*, '/run/[!a]?.pid',"
                   " '/x/\\*', /**/*.pyc]\n  triggers: false\n");
  CHECK(p.golden == "/var/golden/w");
  CHECK(p.storage == Storage::plain);
  CHECK(p.watch.interval == milliseconds(1000));
  CHECK(p.watch.full_every == milliseconds(7 * 86'400'000));
  CHECK(p.watch.ignore ==
        std::vector<std::string>{"/var/log/**", "/tmp/*", "/run/[!a]?.pid", "/x/\\*", "/**/*.pyc"});
  CHECK(!p.watch.triggers);
  CHECK(valid(kBase + "storage: overlay\n").storage == Storage::overlay);
  CHECK(valid(kBase + "watch: {interval: 1h}\n").watch.interval == milliseconds(3'600'000));
  CHECK(valid(kBase + "watch.interval: 30s\nwatch.full_every: 1m\n").watch.full_every ==
        milliseconds(60'000));
  CHECK(valid(kBase + "watch: {ignore: /var/cache/**, triggers: true}\n").watch.ignore ==
        std::vector<std::string>{"/var/cache/**"});
}

TEST_CASE("keep and mounts", "[config]") {
  // /var/lib/mysql and /var/lib/mysql-files share a prefix but are not nested.
  Policy p = valid(kBase +
                   "keep: [/var/lib/mysql, /var/www/uploads, /var/lib/mysql-files]\n"
                   "mounts:\n  - {source: /srv/fonts, target: /usr/share/fonts/x}\n"
                   "  - source: /srv/spool\n    target: /var/spool/in\n    mode: rw\n");
  CHECK(p.keep ==
        std::vector<std::string>{"/var/lib/mysql", "/var/www/uploads", "/var/lib/mysql-files"});
  REQUIRE(p.mounts.size() == 2);
  CHECK(p.mounts[0].source == "/srv/fonts");
  CHECK(p.mounts[0].target == "/usr/share/fonts/x");
  CHECK(p.mounts[0].mode == MountMode::ro);
  CHECK(p.mounts[1].mode == MountMode::rw);
  CHECK(valid(kBase + "keep: /data\n").keep == std::vector<std::string>{"/data"});
}

TEST_CASE("limits in each form", "[config]") {
  Policy p = valid(kBase + "limits:\n  memory: 512M\n  pids: 4194304\n  cpu: 0.5\n  disk: 2G\n");
  CHECK(p.limits.memory == 512ull << 20);
  CHECK(p.limits.pids == 4194304u);
  CHECK(p.limits.cpu_milli == 500u);
  CHECK(p.limits.disk == 2ull << 30);
  CHECK(valid(kBase + "limits: {memory: 4M, pids: 1, cpu: 2, disk: 1048576}\n").limits.cpu_milli ==
        2000u);
  CHECK(valid(kBase + "limits.cpu: 1.25\n").limits.cpu_milli == 1250u);
  CHECK(valid(kBase + "limits.cpu: 0.01\n").limits.cpu_milli == 10u);
  CHECK(valid(kBase + "limits.cpu: 1024\n").limits.cpu_milli == 1'024'000u);
  CHECK(valid(kBase + "limits.cpu: 0.125\n").limits.cpu_milli == 125u);
  CHECK(valid(kBase + "limits.memory: 1T\n").limits.memory == 1ull << 40);
  CHECK(valid(kBase + "limits.memory: '4096K'\n").limits.memory == 4ull << 20);
}

TEST_CASE("userns, capabilities, on_tamper, evidence, restart", "[config]") {
  Policy p = valid(kBase +
                   "userns: false\ncapabilities: [CAP_NET_BIND_SERVICE, CAP_SYS_NICE]\n"
                   "on_tamper: freeze\nevidence:\n  dir: /srv/evidence/w\n  keep: 10000\n"
                   "  sign_key: /etc/goodcop/keys/ev.pem\nrestart: {backoff: 30s, max: 1000}\n");
  CHECK(!p.userns);
  CHECK(p.capabilities == std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"});
  CHECK(p.on_tamper == OnTamper::freeze);
  CHECK(p.evidence.dir == "/srv/evidence/w");
  CHECK(p.evidence.keep == 10000u);
  CHECK(p.evidence.sign_key == "/etc/goodcop/keys/ev.pem");
  CHECK(p.restart.backoff == milliseconds(30'000));
  CHECK(p.restart.max == 1000u);
  CHECK(valid(kBase + "userns: true\n").userns);
  CHECK(valid(kBase + "capabilities: CAP_CHOWN\n").capabilities ==
        std::vector<std::string>{"CAP_CHOWN"});
  CHECK(valid(kBase + "on_tamper: alert\n").on_tamper == OnTamper::alert);
  CHECK(valid(kBase + "on_tamper: heal\n").on_tamper == OnTamper::heal);
  CHECK(valid(kBase + "evidence.keep: 1\n").evidence.keep == 1u);
}

TEST_CASE("text forms: BOM, CRLF, comments, explicit document markers, flow style", "[config]") {
  CHECK(valid("\xef\xbb\xbf" + kBase).name == "w");
  CHECK(valid("name: w\r\npath: /srv/w\r\nexec: {start: [/bin/sh]}\r\n").path == "/srv/w");
  CHECK(
      valid("name: w\r\npath: '/srv/w'\r\nexec: {start: [\"/bin/sh\"]}\r\ndescription: 'it''s'\r\n")
          .description == "it's");
  CHECK(valid("# customer 42\n---\n" + kBase + "# end\n...\n").name == "w");
  CHECK(valid("{name: w, path: /srv/w, exec: {start: [/bin/sh]}}").name == "w");
  CHECK(valid("name: w\npath: /srv/w\nexec: {start: [/bin/sh]}\ndescription: \"h\xc3\xa9\"\n")
            .description == "h\xc3\xa9");
  // Tabs are fine where YAML allows them: between a key and its value.
  CHECK(valid("name:\tw\npath: /srv/w\nexec: {start: [/bin/sh]}\n").name == "w");
}

TEST_CASE("every key is documented and every key has a test form", "[config]") {
  // The schema table and docs/policy.md must not drift apart.
  std::string text = goodcop::read_file(goodcop::test::source_dir() + "/docs/policy.md");
  for (std::string_view k : policy_keys()) {
    INFO(k);
    CHECK(text.find("### `" + std::string(k) + "`") != std::string::npos);
  }
  CHECK(policy_keys().size() == 34);
  // The examples in the reference are the shipped files, verbatim.
  for (const char* name : {"web-customer.yaml", "minimal.yaml"}) {
    INFO(name);
    std::string ex = goodcop::read_file(goodcop::test::source_dir() + "/docs/examples/" + name);
    CHECK(text.find("```yaml\n" + ex + "```") != std::string::npos);
  }
}

TEST_CASE("format_policy writes YAML that loads back to the same policy", "[config]") {
  for (const char* name : {"web-customer.yaml", "minimal.yaml"}) {
    INFO(name);
    auto r = load_policy_file(goodcop::test::source_dir() + "/docs/examples/" + name,
                              LoadOptions{false});
    for (const auto& d : r.diags) UNSCOPED_INFO(d.str());
    REQUIRE(r.ok());
    std::string once = format_policy(*r.policy);
    std::string twice = format_policy(valid(once));
    CHECK(once == twice);
  }
  Policy odd = valid(
      "name: w\npath: '/srv/a: b #c'\nexec: {start: ['/bin/sh', '-c', \"echo \\\"x\\\" \\\\ y\"], "
      "user: 0}\n"
      "exec.env: {Q: '\"'}\nlimits: {cpu: 0.05}\n");
  Policy back = valid(format_policy(odd));
  CHECK(back.path == "/srv/a: b #c");
  CHECK(back.exec.start == odd.exec.start);
  CHECK(back.exec.user.uid == 0u);
  CHECK(back.exec.env == odd.exec.env);
  CHECK(back.limits.cpu_milli == 50u);
}
