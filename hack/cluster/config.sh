# Configuration files of the node daemons, written into STATE_DIR by up.sh.
# Sourced, never run.

write_containerd_config() {
  mkdir -p "${NODE_DIR}/containerd" "${NODE_DIR}/cni/net.d"
  cat >"${NODE_DIR}/containerd/config.toml" <<CFG
# Written by hack/cluster/up.sh. A containerd of its own for ${NODE_NAME},
# beside any other: its own root, state, socket, runc root and CNI
# configuration (a kubelet removes every container of its runtime that it
# does not know, so nodes never share one).
version = 2
root = "${NODE_DIR}/containerd/root"
state = "${NODE_RUN}/containerd/state"
[grpc]
  address = "${CONTAINERD_SOCK}"
[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"
[debug]
  address = "${CONTAINERD_SOCK}.debug"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  # Built by images.sh; never pulled.
  sandbox_image = "registry.k8s.io/pause:3.10.1"
  # Pod network namespaces live under our state, so cluster-down finds them all.
  netns_mounts_under_state_dir = true
  # This sandbox drops CAP_SYS_RESOURCE from every process's bounding set, so
  # no one may lower an oom_score_adj below 0 (the sandbox's default is -998,
  # and runc fails with "can't get final child's PID from pipe"). Clamp to
  # containerd's own value, as rootless setups do.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 with the cgroupfs driver: there is no systemd here.
        SystemdCgroup = false
        Root = "${NODE_RUN}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${NODE_DIR}/cni/net.d"
CFG
  # The bridge lives in the node namespace; pods get addresses from the node's
  # own range, which the other nodes and the host route to this node.
  cat >"${NODE_DIR}/cni/net.d/10-kcache.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "kcache",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${POD_BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${NODE_DIR}/cni/ipam",
        "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${POD_GATEWAY}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
}

write_kubelet_config() {
  mkdir -p "${NODE_DIR}/kubelet"
  cat >"${NODE_DIR}/kubelet/config.yaml" <<CFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This kernel mounts the cgroup v1 hierarchy and PID 1 is not systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
# One cgroup root per node (made by up.sh): a kubelet kills the pods of any
# pod cgroup under its root that it does not know.
cgroupRoot: ${CGROUP_ROOT}
failSwapOn: false
# Lowering an oom_score_adj needs CAP_SYS_RESOURCE, which this sandbox lacks.
oomScoreAdj: 0
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
address: ${NODE_IP}
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI_DIR}/ca.crt}
authorization:
  mode: Webhook
tlsCertFile: ${PKI_DIR}/kubelet-${NODE_NAME}.crt
tlsPrivateKeyFile: ${PKI_DIR}/kubelet-${NODE_NAME}.key
clusterDomain: ${CLUSTER_DOMAIN}
clusterDNS: [${DNS_SERVICE_IP}]
# Pods get only the cluster resolver: the host's resolver is not reachable
# from the node namespace, by design.
resolvConf: ""
podCIDR: ${POD_CIDR}
podLogsDir: ${NODE_DIR}/pod-logs
staticPodPath: ""
maxPods: 110
serializeImagePulls: false
# A test node on a shared disk: do not evict for disk pressure that other
# work on the machine causes, and never garbage-collect the imported images.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 87600h
rotateCertificates: false
serverTLSBootstrap: false
CFG
}

write_kube_proxy_config() {
  mkdir -p "${NODE_DIR}/kube-proxy"
  cat >"${NODE_DIR}/kube-proxy/config.yaml" <<CFG
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: ${STATE_DIR}/kube-proxy.kubeconfig
hostnameOverride: ${NODE_NAME}
bindAddress: ${NODE_IP}
# Every node's pods: traffic from elsewhere (the host, a node) to a Service
# is masqueraded, so its replies come back through this node's conntrack.
clusterCIDR: ${CLUSTER_CIDR}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Lowering an oom_score_adj needs CAP_SYS_RESOURCE, which this sandbox lacks.
oomScoreAdj: 0
# As on kind: leave the host-wide conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
CFG
}
