# Sourced by scripts/local-kubernetes.sh and deploy/local-image.sh: an image made on this machine, with no
# registry download.
#
#   oci_image_tar ROOTFS OUT CONFIG NAME
#
# writes OUT/image.tar, an OCI image layout (as `ctr images import` takes it) holding ROOTFS as one layer, with
# the image configuration CONFIG (JSON: "architecture", "os" and "rootfs" are added) under the name NAME, in
# which @TAG@ stands for the first 12 hex digits of the layer's digest (so a changed tree changes the name).
# Prints the name. OUT is the work directory; the layer is written reproducibly (sorted, owner 0, mtime 0).
oci_image_tar() {
  local root=$1 out=$2 config=$3 name=$4
  local blobs=$out/layout/blobs/sha256 diff cfg manifest
  mkdir -p "$blobs"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$out/layer.tar" .
  diff=$(sha256sum "$out/layer.tar" | cut -d' ' -f1)
  name=${name//@TAG@/${diff:0:12}}
  mv "$out/layer.tar" "$blobs/$diff"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$config" "$diff" >"$out/config.json"
  cfg=$(sha256sum "$out/config.json" | cut -d' ' -f1)
  cp "$out/config.json" "$blobs/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$cfg" "$(stat -c %s "$out/config.json")" "$diff" "$(stat -c %s "$blobs/$diff")" >"$out/manifest.json"
  manifest=$(sha256sum "$out/manifest.json" | cut -d' ' -f1)
  cp "$out/manifest.json" "$blobs/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(stat -c %s "$out/manifest.json")" "$name" "${name##*:}" >"$out/layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$out/layout/oci-layout"
  tar -C "$out/layout" -cf "$out/image.tar" .
  echo "$name"
}
