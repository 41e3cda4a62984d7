#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cri/store/metadata_store.h"
#include "cri/store/schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/status_macros.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;
using testing::TempDir;

SandboxRecord Sandbox(const std::string& id, const std::string& name) {
  return SandboxRecord{.id = id,
                       .name = name,
                       .state = 0,
                       .created_at_ns = 100,
                       .runtime_handler = "berth",
                       .netns_path = "/var/run/netns/berth-" + id,
                       .config = std::string("\x0a\x00\x01\xff", 4),  // binary-safe
                       .extra = "{}"};
}

ContainerRecord Container(const std::string& id, const std::string& sandbox_id,
                          const std::string& name) {
  return ContainerRecord{.id = id,
                         .sandbox_id = sandbox_id,
                         .name = name,
                         .state = 1,
                         .created_at_ns = 200,
                         .image_id = "sha256:abc",
                         .snapshot_key = id,
                         .log_path = "/var/log/pods/" + id + ".log",
                         .config = "cfg"};
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MetadataStore>> store = MetadataStore::Open(db_path());
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  std::string db_path() const { return dir_.Join("meta.db"); }

  absl::Status Write(const std::function<absl::Status(MetadataTables&)>& change) {
    return store_->Update(change);
  }

  TempDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_F(StoreTest, NewDatabaseIsAtTheLatestSchema) {
  EXPECT_EQ(store_->schema_version(), LatestSchemaVersion());
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

TEST_F(StoreTest, SandboxCrud) {
  SandboxRecord sandbox = Sandbox("s1", "pod_ns_uid_0");
  ASSERT_TRUE(Write([&](MetadataTables& t) { return t.CreateSandbox(sandbox); }).ok());
  auto read = store_->Read([](const MetadataTables& t) { return t.GetSandbox("s1"); });
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(*read, sandbox);

  sandbox.state = 1;
  sandbox.extra = R"({"ip":"10.0.0.2"})";
  ASSERT_TRUE(Write([&](MetadataTables& t) { return t.UpdateSandbox(sandbox); }).ok());
  EXPECT_EQ(*store_->Read([](const MetadataTables& t) { return t.GetSandbox("s1"); }), sandbox);

  ASSERT_TRUE(Write([](MetadataTables& t) { return t.DeleteSandbox("s1"); }).ok());
  EXPECT_THAT(store_->Read([](const MetadataTables& t) { return t.GetSandbox("s1"); }),
              StatusIs(absl::StatusCode::kNotFound));
  // Deleting what is already gone succeeds: CRI removes are idempotent.
  EXPECT_THAT(Write([](MetadataTables& t) { return t.DeleteSandbox("s1"); }), IsOk());
}

TEST_F(StoreTest, DuplicateIdsAndNamesAreAlreadyExists) {
  ASSERT_TRUE(Write([](MetadataTables& t) { return t.CreateSandbox(Sandbox("s1", "a")); }).ok());
  EXPECT_THAT(Write([](MetadataTables& t) { return t.CreateSandbox(Sandbox("s1", "b")); }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Write([](MetadataTables& t) { return t.CreateSandbox(Sandbox("s2", "a")); }),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("sandboxes.name")));
}

TEST_F(StoreTest, UpdatesOfUnknownRowsAreNotFound) {
  EXPECT_THAT(Write([](MetadataTables& t) { return t.UpdateSandbox(Sandbox("nope", "x")); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Write([](MetadataTables& t) { return t.UpdateContainer(Container("c", "s", "x")); }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, ContainersNeedTheirSandboxAndGoWithIt) {
  EXPECT_THAT(
      Write([](MetadataTables& t) { return t.CreateContainer(Container("c1", "missing", "n")); }),
      StatusIs(absl::StatusCode::kFailedPrecondition));

  ASSERT_TRUE(Write([](MetadataTables& t) {
                RETURN_IF_ERROR(t.CreateSandbox(Sandbox("s1", "pod")));
                RETURN_IF_ERROR(t.CreateContainer(Container("c1", "s1", "app")));
                return t.CreateContainer(Container("c2", "s1", "sidecar"));
              }).ok());
  ContainerRecord c1 = Container("c1", "s1", "app");
  EXPECT_EQ(*store_->Read([](const MetadataTables& t) { return t.GetContainer("c1"); }), c1);
  c1.state = 2;
  c1.exit_code = 137;
  c1.finished_at_ns = 300;
  ASSERT_TRUE(Write([&](MetadataTables& t) { return t.UpdateContainer(c1); }).ok());
  EXPECT_EQ(*store_->Read([](const MetadataTables& t) { return t.GetContainer("c1"); }), c1);

  ASSERT_TRUE(Write([](MetadataTables& t) { return t.DeleteSandbox("s1"); }).ok());
  auto left = store_->Read([](const MetadataTables& t) { return t.ListContainers(); });
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(StoreTest, ImagesKeepTheirNamesAndTagsMove) {
  ImageRecord old_image{
      .id = "sha256:old", .names = {"docker.io/library/busybox:latest"}, .size = 10};
  ImageRecord new_image{
      .id = "sha256:new",
      .names = {"docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:def"},
      .size = 20,
      .pinned = true,
      .config = "{}"};
  ASSERT_TRUE(Write([&](MetadataTables& t) { return t.PutImage(old_image); }).ok());
  ASSERT_TRUE(Write([&](MetadataTables& t) { return t.PutImage(new_image); }).ok());

  auto by_tag = store_->Read([](const MetadataTables& t) {
    return t.FindImageByName("docker.io/library/busybox:latest");
  });
  ASSERT_TRUE(by_tag.ok());
  EXPECT_EQ(by_tag->id, "sha256:new");
  EXPECT_TRUE(by_tag->pinned);
  auto old_read = store_->Read([](const MetadataTables& t) { return t.GetImage("sha256:old"); });
  ASSERT_TRUE(old_read.ok());
  EXPECT_TRUE(old_read->names.empty()) << "the tag should have moved to the new image";

  ASSERT_TRUE(Write([](MetadataTables& t) {
                return t.RemoveImageName("docker.io/library/busybox:latest");
              }).ok());
  EXPECT_THAT(store_->Read([](const MetadataTables& t) { return t.GetImage("sha256:new"); })->names,
              ElementsAre("docker.io/library/busybox@sha256:def"));
  ASSERT_TRUE(Write([](MetadataTables& t) { return t.DeleteImage("sha256:new"); }).ok());
  auto by_digest = store_->Read([](const MetadataTables& t) {
    return t.FindImageByName("docker.io/library/busybox@sha256:def");
  });
  EXPECT_THAT(by_digest, StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, SnapshotsGetShortIncreasingIds) {
  auto base = store_->Update([](MetadataTables& t) {
    return t.CreateSnapshot({.key = "sha256:layer1", .kind = SnapshotKind::kCommitted}).status();
  });
  ASSERT_TRUE(base.ok());
  absl::StatusOr<SnapshotRecord> upper;
  ASSERT_TRUE(Write([&](MetadataTables& t) {
                upper = t.CreateSnapshot({.key = "ctr1", .parent = "sha256:layer1"});
                return upper.status();
              }).ok());
  auto all = store_->Read([](const MetadataTables& t) { return t.ListSnapshots(); });
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, 1);
  EXPECT_EQ((*all)[1].id, 2);
  EXPECT_EQ((*all)[1], *upper);
  ASSERT_TRUE(Write([](MetadataTables& t) { return t.DeleteSnapshot("ctr1"); }).ok());
  // Ids are never reused, so a stale directory can never be taken for a new snapshot.
  absl::StatusOr<SnapshotRecord> again;
  ASSERT_TRUE(Write([&](MetadataTables& t) {
                again = t.CreateSnapshot({.key = "ctr2", .parent = "sha256:layer1"});
                return again.status();
              }).ok());
  EXPECT_EQ(again->id, 3);
}

TEST_F(StoreTest, FailedUpdateWritesNothing) {
  absl::Status status = Write([](MetadataTables& t) {
    RETURN_IF_ERROR(t.CreateSandbox(Sandbox("s1", "pod")));
    RETURN_IF_ERROR(t.CreateContainer(Container("c1", "s1", "app")));
    return t.CreateContainer(Container("c2", "s1", "app"));  // duplicate name
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists));
  auto sandboxes = store_->Read([](const MetadataTables& t) { return t.ListSandboxes(); });
  ASSERT_TRUE(sandboxes.ok());
  EXPECT_TRUE(sandboxes->empty());
}

TEST_F(StoreTest, DataSurvivesReopen) {
  ASSERT_TRUE(Write([](MetadataTables& t) { return t.CreateSandbox(Sandbox("s1", "pod")); }).ok());
  store_.reset();
  auto reopened = MetadataStore::Open(db_path());
  ASSERT_THAT(reopened, IsOk());
  EXPECT_THAT((*reopened)->Read([](const MetadataTables& t) { return t.GetSandbox("s1"); }),
              IsOk());
}

TEST(StoreMigrationTest, OlderSchemaIsMigratedWithItsData) {
  TempDir dir;
  std::string path = dir.Join("meta.db");
  {
    // A database as the first schema version left it, with a row in it.
    auto v1 = MetadataStore::Open(path, {.target_version = 1});
    ASSERT_THAT(v1, IsOk());
    ASSERT_EQ((*v1)->schema_version(), 1);
    absl::StatusOr<SqliteDb> raw = SqliteDb::Open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(
        raw->Exec("INSERT INTO sandboxes VALUES ('s1','pod',1,5,'berth','/n','c','{}');"
                  "INSERT INTO containers VALUES ('c1','s1','app',1,6,0,0,0,'img','c1','c','{}');")
            .ok());
  }
  auto store = MetadataStore::Open(path);
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ((*store)->schema_version(), LatestSchemaVersion());
  auto container = (*store)->Read([](const MetadataTables& t) { return t.GetContainer("c1"); });
  ASSERT_THAT(container, IsOk());
  EXPECT_EQ(container->sandbox_id, "s1");
  EXPECT_EQ(container->log_path, "");  // added by migration 2, defaulted for old rows
  ContainerRecord updated = *container;
  updated.log_path = "/var/log/pods/c1.log";
  ASSERT_TRUE((*store)->Update([&](MetadataTables& t) { return t.UpdateContainer(updated); }).ok());
  EXPECT_EQ((*store)->Read([](const MetadataTables& t) { return t.GetContainer("c1"); })->log_path,
            "/var/log/pods/c1.log");
}

TEST(StoreMigrationTest, NewerSchemaIsRefused) {
  TempDir dir;
  std::string path = dir.Join("meta.db");
  {
    absl::StatusOr<SqliteDb> raw = SqliteDb::Open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw->Exec("PRAGMA user_version = 999").ok());
  }
  EXPECT_THAT(MetadataStore::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("schema version 999")));
}

// A berthd killed in the middle of a multi-row change must leave the last
// committed state: the rows written before the change, none of the change.
TEST(StoreCrashTest, WriterKilledMidTransactionLeavesConsistentDatabase) {
  TempDir dir;
  std::string path = dir.Join("meta.db");
  {
    auto store = MetadataStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->Update([](MetadataTables& t) {
                      return t.CreateSandbox(Sandbox("committed", "before-crash"));
                    })
                    .ok());
  }

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t writer = ::fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    ::close(ready[0]);
    auto store = MetadataStore::Open(path);
    if (!store.ok()) _exit(1);
    (void)(*store)->Update([&](MetadataTables& t) -> absl::Status {
      // Enough rows that SQLite spills uncommitted pages into the WAL file
      // before the kill, so recovery really has to discard them.
      std::string big(4096, 'x');
      for (int i = 0; i < 2000; ++i) {
        SandboxRecord s = Sandbox(absl::StrCat("s", i), absl::StrCat("pod", i));
        s.config = big;
        RETURN_IF_ERROR(t.CreateSandbox(s));
      }
      char byte = 1;
      (void)::write(ready[1], &byte, 1);
      ::pause();  // killed here, mid-transaction
      return absl::OkStatus();
    });
    _exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "writer died before reaching the kill point";
  ::close(ready[0]);
  struct stat wal;
  ASSERT_EQ(::stat((path + "-wal").c_str(), &wal), 0);
  EXPECT_GT(wal.st_size, 1 << 20) << "uncommitted pages should have spilled to the WAL";
  ASSERT_EQ(::kill(writer, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(writer, &status, 0), writer);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto store = MetadataStore::Open(path);
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->CheckIntegrity(), IsOk());
  auto sandboxes = (*store)->Read([](const MetadataTables& t) { return t.ListSandboxes(); });
  ASSERT_TRUE(sandboxes.ok());
  ASSERT_EQ(sandboxes->size(), 1u);
  EXPECT_EQ((*sandboxes)[0].id, "committed");
  // And the store takes new writes.
  EXPECT_TRUE((*store)
                  ->Update([](MetadataTables& t) {
                    return t.CreateSandbox(Sandbox("after", "after-crash"));
                  })
                  .ok());
}

}  // namespace
}  // namespace berth::cri
