#include "cri/config/config.h"

#include <algorithm>
#include <filesystem>

#include "cri/config/registries_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;
using testing::TempDir;

TEST(ConfigTest, DefaultsNeedNoFile) {
  BerthConfig config;
  EXPECT_EQ(config.root, "/var/lib/berth");
  EXPECT_EQ(config.state_dir, "/run/berth");
  EXPECT_EQ(config.socket, "/run/berth/berth.sock");
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.cgroup_driver, CgroupDriver::kCgroupfs);
  EXPECT_EQ(config.shutdown_timeout, absl::Seconds(10));
  EXPECT_EQ(config.cni.conf_dir, "/etc/cni/net.d");
  EXPECT_EQ(config.cni.bin_dirs, (std::vector<std::string>{"/opt/cni/bin", "/usr/lib/cni"}));
  EXPECT_EQ(config.cni.cache_dir, "/var/lib/cni");
  EXPECT_EQ(config.cni.plugin_timeout, absl::Minutes(1));
}

TEST(ConfigTest, CniBinDirsAreAColonSeparatedListOfAbsolutePaths) {
  absl::StatusOr<BerthConfig> config =
      ParseConfigYaml("cni:\n  bin_dirs: /usr/libexec/cni/:/opt/cni/bin\n", "berth.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->cni.bin_dirs, (std::vector<std::string>{"/usr/libexec/cni", "/opt/cni/bin"}));
  nlohmann::json printed = nlohmann::json::parse(ConfigToJson(*config));
  EXPECT_EQ(printed["cni"]["bin_dirs"], "/usr/libexec/cni:/opt/cni/bin");

  for (const std::string bad : {"", "relative/bin", "/opt/cni/bin:", "/a::/b"}) {
    EXPECT_THAT(SetConfigValue("cni.bin_dirs", bad, *config),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("cni.bin_dirs: must be absolute paths separated by ':'")))
        << bad;
  }
  EXPECT_THAT(SetConfigValue("cni.plugin_timeout", "0s", *config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("positive duration")));
}

TEST(ConfigTest, StreamKeysAreChecked) {
  BerthConfig config;
  EXPECT_EQ(config.stream.address, "127.0.0.1");
  EXPECT_EQ(config.stream.port, 0);
  EXPECT_THAT(SetConfigValue("stream.address", "localhost", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IPv4 or IPv6 address")));
  EXPECT_THAT(SetConfigValue("stream.port", "65536", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0 to 65535")));
  EXPECT_THAT(SetConfigValue("stream.max_sessions", "0", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 to 65536")));
  EXPECT_THAT(SetConfigValue("stream.tls_cert_file", "relative.crt", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  EXPECT_THAT(SetConfigValue("stream.idle_timeout", "0s", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("positive duration")));
  // Empty unsets a file.
  ASSERT_THAT(SetConfigValue("stream.tls_cert_file", "/x/c.crt", config), IsOk());
  ASSERT_THAT(SetConfigValue("stream.tls_cert_file", "", config), IsOk());
  EXPECT_EQ(config.stream.tls_cert_file, "");
}

TEST(ConfigTest, EmptyFileAndNullValuesKeepDefaults) {
  absl::StatusOr<BerthConfig> config = ParseConfigYaml("", "berth.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->root, "/var/lib/berth");
  config = ParseConfigYaml("root:\ncni:\n", "berth.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->root, "/var/lib/berth");
  EXPECT_EQ(config->cni.conf_dir, "/etc/cni/net.d");
}

TEST(ConfigTest, MetricsAddressIsOffByDefaultAndALiteralHostPort) {
  BerthConfig config;
  EXPECT_EQ(config.metrics.address, "");
  for (const char* good : {"127.0.0.1:9095", "[::1]:9095", "0.0.0.0:1", "127.0.0.1:0", ""})
    EXPECT_THAT(SetConfigValue("metrics.address", good, config), IsOk()) << good;
  for (const char* bad : {"localhost:9095", "127.0.0.1", "127.0.0.1:-1", "127.0.0.1:65536",
                          "::1:9095", "[::1]", ":9095"}) {
    EXPECT_THAT(SetConfigValue("metrics.address", bad, config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics.address")))
        << bad;
  }
}

TEST(ConfigTest, EveryKeyIsReadFromYaml) {
  absl::StatusOr<BerthConfig> config = ParseConfigYaml(R"(
root: /data/berth/
state_dir: /run/b
socket: /run/b/cri.sock
log_level: debug
cgroup_driver: systemd
shutdown_timeout: 1m30s
cni:
  conf_dir: /etc/berth/net.d
)",
                                                       "berth.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->root, "/data/berth");  // trailing slash dropped
  EXPECT_EQ(config->state_dir, "/run/b");
  EXPECT_EQ(config->socket, "/run/b/cri.sock");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->cgroup_driver, CgroupDriver::kSystemd);
  EXPECT_EQ(config->shutdown_timeout, absl::Seconds(90));
  EXPECT_EQ(config->cni.conf_dir, "/etc/berth/net.d");
}

TEST(ConfigTest, EveryKeyCanBeOverridden) {
  // Flags go through SetConfigValue: each key path must accept a valid value
  // and leave the others alone.
  const std::pair<std::string, std::string> overrides[] = {
      {"root", "/x/root"},
      {"state_dir", "/x/state"},
      {"socket", "/x/s.sock"},
      {"log_level", "warn"},
      {"cgroup_driver", "systemd"},
      {"shutdown_timeout", "3s"},
      {"cni.conf_dir", "/x/net.d"},
      {"cni.conf_template", "/x/net.template"},
      {"cni.bin_dirs", "/x/bin:/y/cni"},
      {"cni.cache_dir", "/x/cni"},
      {"cni.netns_dir", "/x/netns"},
      {"cni.plugin_timeout", "30s"},
      {"image.sandbox_image", "registry.k8s.io/pause:3.10"},
      {"image.registries_file", "/x/registries.yaml"},
      {"image.auth_file", "/x/auth.json"},
      {"image.max_concurrent_downloads", "7"},
      {"image.stall_timeout", "2m30s"},
      {"image.max_layer_size", "512Mi"},
      {"image.max_layer_entries", "5000"},
      {"stream.address", "::1"},
      {"stream.port", "10010"},
      {"stream.tls_cert_file", "/x/stream.crt"},
      {"stream.tls_key_file", "/x/stream.key"},
      {"stream.idle_timeout", "30m"},
      {"stream.creation_timeout", "10s"},
      {"stream.max_sessions", "16"},
      {"metrics.address", "127.0.0.1:9095"}};
  ASSERT_EQ(std::size(overrides), ConfigKeyPaths().size()) << "a key has no override test";
  for (const auto& [key, value] : overrides) {
    BerthConfig config;
    ASSERT_THAT(SetConfigValue(key, value, config), IsOk()) << key;
    nlohmann::json json = nlohmann::json::parse(ConfigToJson(config));
    nlohmann::json defaults = nlohmann::json::parse(ConfigToJson(BerthConfig{}));
    std::string pointer_text = "/";
    pointer_text += key;
    std::replace(pointer_text.begin(), pointer_text.end(), '.', '/');
    nlohmann::json::json_pointer pointer(pointer_text);
    const nlohmann::json& got = json[pointer];
    EXPECT_EQ(got.is_string() ? got.get<std::string>() : got.dump(), value) << key;
    json[pointer] = defaults[pointer];
    EXPECT_EQ(json, defaults) << "overriding " << key << " changed another key";
  }
}

TEST(ConfigTest, LayerCapsTakeSizesWithBinarySuffixesAndPrintThemBack) {
  BerthConfig config;
  EXPECT_EQ(config.image.max_layer_size, int64_t{64} << 30);
  EXPECT_EQ(config.image.max_layer_entries, 10'000'000);
  nlohmann::json printed = nlohmann::json::parse(ConfigToJson(config));
  EXPECT_EQ(printed["image"]["max_layer_size"], "64Gi");
  EXPECT_EQ(printed["image"]["max_layer_entries"], 10'000'000);

  const std::pair<std::string, int64_t> sizes[] = {{"1048576", int64_t{1} << 20},
                                                   {"3000000", 3'000'000},
                                                   {"2048Ki", int64_t{2} << 20},
                                                   {"2Ti", int64_t{2} << 40}};
  for (const auto& [text, bytes] : sizes) {
    ASSERT_THAT(SetConfigValue("image.max_layer_size", text, config), IsOk()) << text;
    EXPECT_EQ(config.image.max_layer_size, bytes) << text;
    absl::StatusOr<BerthConfig> reparsed = ParseConfigYaml(ConfigToJson(config), "printed");
    ASSERT_THAT(reparsed, IsOk());
    EXPECT_EQ(reparsed->image.max_layer_size, bytes) << text;
  }

  const std::string why =
      "image.max_layer_size: must be a size such as 64Gi, 512Mi or 1048576, at least 1Mi, got ";
  for (const std::string bad : {"64GB", "-1", "1Ki", "Gi", "", "9999999999Ti", "1.5Gi"}) {
    EXPECT_THAT(SetConfigValue("image.max_layer_size", bad, config),
                StatusIs(absl::StatusCode::kInvalidArgument, why + "\"" + bad + "\""));
  }
  EXPECT_THAT(SetConfigValue("image.max_layer_entries", "0", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from 1 to 1000000000")));
}

TEST(ConfigTest, OverrideOfUnknownKeyIsNotFound) {
  BerthConfig config;
  EXPECT_THAT(SetConfigValue("roots", "/x", config),
              StatusIs(absl::StatusCode::kNotFound, "roots: unknown key"));
}

TEST(ConfigTest, UnknownKeysNameTheirPath) {
  EXPECT_THAT(
      ParseConfigYaml("sockett: /x\n", "/etc/berth/berth.yaml"),
      StatusIs(absl::StatusCode::kInvalidArgument, "/etc/berth/berth.yaml: sockett: unknown key"));
  EXPECT_THAT(
      ParseConfigYaml("cni:\n  conf_dri: /x\n", "berth.yaml"),
      StatusIs(absl::StatusCode::kInvalidArgument, "berth.yaml: cni.conf_dri: unknown key"));
}

TEST(ConfigTest, BadValuesNameTheKeyAndWhy) {
  const std::pair<std::string, std::string> cases[] = {
      {"log_level: loud",
       "berth.yaml: log_level: must be one of trace, debug, info, warn, error, "
       "critical, off, got \"loud\""},
      {"cgroup_driver: cgroupv3",
       "berth.yaml: cgroup_driver: must be one of cgroupfs, systemd, got \"cgroupv3\""},
      {"root: var/lib/berth", "berth.yaml: root: must be an absolute path"},
      {"shutdown_timeout: soon",
       "berth.yaml: shutdown_timeout: must be a duration such as 10s or 1m30s, got \"soon\""},
      {"shutdown_timeout: -5s",
       "berth.yaml: shutdown_timeout: must be a duration such as 10s or 1m30s, got \"-5s\""},
      {"cni: /etc/cni", "berth.yaml: cni: must be a mapping of keys"},
      {"socket: [a, b]", "berth.yaml: socket: must be a single value"},
      {"root: /a\nroot: /b", "berth.yaml: root: duplicate key"},
      {"- root", "berth.yaml: must be a mapping of keys"},
  };
  for (const auto& [yaml, expected] : cases) {
    EXPECT_THAT(ParseConfigYaml(yaml, "berth.yaml"),
                StatusIs(absl::StatusCode::kInvalidArgument, expected))
        << yaml;
  }
}

TEST(ConfigTest, SyntaxErrorsGiveTheLine) {
  EXPECT_THAT(ParseConfigYaml("root: /a\ncni: {conf_dir: /x\n", "b.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("b.yaml: line ")));
}

TEST(ConfigTest, MissingDefaultFileMeansDefaultsButMissingExplicitFileFails) {
  TempDir dir;
  absl::StatusOr<BerthConfig> config = LoadConfigFile(dir.Join("absent.yaml"), false);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->root, "/var/lib/berth");

  EXPECT_THAT(LoadConfigFile(dir.Join("absent.yaml"), true),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.yaml")));
}

TEST(ConfigTest, LoadsAFileAndNamesItInErrors) {
  TempDir dir;
  std::string path = dir.Join("berth.yaml");
  ASSERT_THAT(WriteFileAtomically(path, "cgroup_driver: systemd\n"), IsOk());
  absl::StatusOr<BerthConfig> config = LoadConfigFile(path, true);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->cgroup_driver, CgroupDriver::kSystemd);

  ASSERT_THAT(WriteFileAtomically(path, "log_level: chatty\n"), IsOk());
  EXPECT_THAT(LoadConfigFile(path, true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ": log_level: must be one of")));
}

TEST(ConfigTest, PrintedConfigIsAValidConfigFile) {
  BerthConfig original;
  original.root = "/srv/berth";
  original.cgroup_driver = CgroupDriver::kSystemd;
  original.shutdown_timeout = absl::Milliseconds(2500);
  original.cni.conf_dir = "/srv/net.d";
  absl::StatusOr<BerthConfig> reparsed = ParseConfigYaml(ConfigToJson(original), "printed");
  ASSERT_THAT(reparsed, IsOk());
  EXPECT_EQ(ConfigToJson(*reparsed), ConfigToJson(original));
}

}  // namespace
}  // namespace berth::cri

namespace berth::cri {
namespace {

TEST(RegistriesFileTest, ParsesMirrorsTlsAndPlainHttp) {
  absl::StatusOr<RegistryHosts> hosts = ParseRegistriesYaml(R"(
docker.io:
  mirrors: ["https://mirror.example.com", "http://127.0.0.1:5001"]
"registry.internal:5000":
  ca_file: /etc/berth/ca.pem
"10.0.0.5:5000":
  plain_http: true
"test.example":
  skip_verify: yes
)",
                                                            "registries.yaml");
  ASSERT_THAT(hosts, IsOk());
  EXPECT_EQ((*hosts)["docker.io"].mirrors,
            (std::vector<std::string>{"https://mirror.example.com", "http://127.0.0.1:5001"}));
  EXPECT_EQ((*hosts)["registry.internal:5000"].ca_file, "/etc/berth/ca.pem");
  EXPECT_TRUE((*hosts)["10.0.0.5:5000"].plain_http);
  EXPECT_TRUE((*hosts)["test.example"].skip_verify);
  EXPECT_TRUE(ParseRegistriesYaml("", "r.yaml")->empty());
}

TEST(ConfigTest, RuntimeHandlersNameOtherOciRuntimes) {
  absl::StatusOr<BerthConfig> config = ParseConfigYaml(R"(
runtime_handlers:
  runc: {binary: /usr/sbin/runc}
  crun:
    binary: /usr/bin/crun
    root: /run/crun-pods
)",
                                                       "berth.yaml");
  ASSERT_THAT(config, IsOk());
  ASSERT_EQ(config->runtime_handlers.size(), 2u);
  EXPECT_EQ(config->runtime_handlers.at("runc").binary, "/usr/sbin/runc");
  EXPECT_EQ(config->runtime_handlers.at("runc").root, "");
  EXPECT_EQ(config->runtime_handlers.at("crun").root, "/run/crun-pods");
  // --print-config output is itself a config that reads back the same.
  absl::StatusOr<BerthConfig> again = ParseConfigYaml(ConfigToJson(*config), "printed");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->runtime_handlers.at("crun").binary, "/usr/bin/crun");

  for (auto [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"runtime_handlers:\n  Runc: {binary: /x}\n", "runtime_handlers.Runc: a handler name"},
           {"runtime_handlers:\n  runc: {binary: runc}\n", "runtime_handlers.runc.binary: must be"},
           {"runtime_handlers:\n  runc: {binary: /x, flags: y}\n",
            "runtime_handlers.runc.flags: unknown key"},
           {"runtime_handlers: [runc]\n", "runtime_handlers: must be a mapping"}}) {
    EXPECT_THAT(ParseConfigYaml(yaml, "b.yaml"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(expected)))
        << yaml;
  }
}

TEST(ConfigTest, DropInsMergeInLexicalOrderAndNameTheirFiles) {
  TempDir dir;
  std::string main = dir.Join("berth.yaml");
  ASSERT_TRUE(WriteFileAtomically(main, "log_level: debug\ncni:\n  conf_dir: /main/net.d\n").ok());
  std::filesystem::create_directories(main + ".d");
  ASSERT_TRUE(WriteFileAtomically(main + ".d/20-later.yaml", "log_level: warn\n").ok());
  ASSERT_TRUE(WriteFileAtomically(main + ".d/10-first.yaml",
                                  "log_level: error\nimage:\n  sandbox_image: pause:1\n")
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(main + ".d/README", "not yaml: [").ok());  // not *.yaml
  absl::StatusOr<LoadedConfig> loaded = LoadConfigFiles(main, true);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->config.log_level, "warn") << "the lexically last file wins";
  EXPECT_EQ(loaded->config.image.sandbox_image, "pause:1");
  EXPECT_EQ(loaded->config.cni.conf_dir, "/main/net.d");
  EXPECT_EQ(loaded->files,
            (std::vector<std::string>{main, main + ".d/10-first.yaml", main + ".d/20-later.yaml"}));
  EXPECT_EQ(loaded->sources.at("log_level"), main + ".d/20-later.yaml");
  EXPECT_EQ(loaded->sources.at("cni.conf_dir"), main);
  EXPECT_EQ(loaded->sources.at("image.sandbox_image"), main + ".d/10-first.yaml");

  // A bad drop-in names itself and stops the load.
  ASSERT_TRUE(WriteFileAtomically(main + ".d/30-bad.yaml", "cni:\n  conf_dri: /x\n").ok());
  EXPECT_THAT(LoadConfigFiles(main, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("30-bad.yaml: cni.conf_dri")));
}

// The commented default config that `cmake --install` ships parses, and
// means exactly the embedded defaults.
TEST(ConfigTest, ShippedDefaultConfigIsTheDefaults) {
  absl::StatusOr<BerthConfig> shipped =
      LoadConfigFile(std::string(BERTH_SOURCE_DIR) + "/packaging/berth.yaml", true);
  ASSERT_THAT(shipped, IsOk());
  EXPECT_EQ(ConfigToJson(*shipped), ConfigToJson(BerthConfig{}));
}

TEST(RegistriesFileTest, ErrorsNameTheFileHostAndKey) {
  for (auto [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"docker.io:\n  mirror: [x]\n", "r.yaml: docker.io.mirror: unknown key"},
           {"docker.io:\n  mirrors: [ftp://x]\n", "r.yaml: docker.io.mirrors: \"ftp://x\" is not"},
           {"h:\n  plain_http: maybe\n", "r.yaml: h.plain_http: must be true or false"},
           {"h:\n  ca_file: relative.pem\n", "r.yaml: h.ca_file: must be an absolute path"},
           {"- a\n- b\n", "r.yaml: top level"},
           {"a/b:\n  plain_http: true\n", "r.yaml: a/b: must be a registry host"}}) {
    EXPECT_THAT(ParseRegistriesYaml(yaml, "r.yaml"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(expected)))
        << yaml;
  }
}

}  // namespace
}  // namespace berth::cri
