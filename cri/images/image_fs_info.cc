// ImageFsInfo: what images (layers and blobs) and container writable
// layers really occupy, measured on disk.

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "cri/grpc_status.h"
#include "cri/images/image_service.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/disk_usage.h"
#include "snapshotter/overlay_snapshotter.h"

namespace berth::cri {
namespace {

void Fill(runtime::v1::FilesystemUsage& usage, const std::string& mountpoint,
          const snapshotter::SnapshotUsage& total, int64_t now_ns) {
  usage.set_timestamp(now_ns);
  usage.mutable_fs_id()->set_mountpoint(mountpoint);
  usage.mutable_used_bytes()->set_value(static_cast<uint64_t>(total.bytes));
  usage.mutable_inodes_used()->set_value(static_cast<uint64_t>(total.inodes));
}

}  // namespace

grpc::Status CriImageService::ImageFsInfo(grpc::ServerContext*,
                                          const runtime::v1::ImageFsInfoRequest*,
                                          runtime::v1::ImageFsInfoResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    snapshotter::SnapshotUsage images;
    snapshotter::SnapshotUsage containers;
    ASSIGN_OR_RETURN(images, snapshotter::DiskUsage(deps_.content_root));
    ASSIGN_OR_RETURN(std::vector<snapshotter::SnapshotInfo> snapshots, deps_.snapshots->List());
    for (const snapshotter::SnapshotInfo& s : snapshots) {
      if (absl::StartsWith(s.key, snapshotter::OverlaySnapshotter::kExtractPrefix)) continue;
      absl::StatusOr<snapshotter::SnapshotUsage> usage = deps_.snapshots->Usage(s.key);
      // Removed while we measured.
      if (absl::IsNotFound(usage.status())) continue;
      RETURN_IF_ERROR(usage.status());
      snapshotter::SnapshotUsage& total =
          s.kind == snapshotter::SnapshotKind::kCommitted ? images : containers;
      total.bytes += usage->bytes;
      total.inodes += usage->inodes;
    }
    int64_t now = absl::ToUnixNanos(absl::Now());
    Fill(*response->add_image_filesystems(), deps_.snapshots_root, images, now);
    Fill(*response->add_container_filesystems(), deps_.snapshots_root, containers, now);
    return absl::OkStatus();
  }();
  return ToGrpcStatus(status);
}

}  // namespace berth::cri
