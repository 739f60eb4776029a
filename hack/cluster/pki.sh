# Certificates and kubeconfigs for the local cluster, made with openssl.
# Sourced by up.sh. Existing files are kept, so a restart keeps its identity;
# `cluster-down` removes them with the rest of the state.

# One CA signs everything: serving certificates and client identities alike.
# Client identities follow kubeadm: CN is the user, O the group.
pki_ca() {
  [[ -f ${PKI_DIR}/ca.crt ]] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "${PKI_DIR}/ca.key" 2>/dev/null
  openssl req -x509 -new -key "${PKI_DIR}/ca.key" -sha256 -days 3650 -subj "/CN=kcache-local-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI_DIR}/ca.crt" 2>/dev/null
}

# pki_cert NAME SUBJECT KIND [SAN]: KIND is server or client.
pki_cert() {
  local name=$1 subj=$2 kind=$3 san=${4:-} ext
  [[ -f ${PKI_DIR}/${name}.crt ]] && return 0
  ext="${PKI_DIR}/${name}.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ ${kind} == server ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; else echo "extendedKeyUsage=clientAuth"; fi
    [[ -z ${san} ]] || echo "subjectAltName=${san}"
  } >"${ext}"
  openssl ecparam -name prime256v1 -genkey -noout -out "${PKI_DIR}/${name}.key" 2>/dev/null
  openssl req -new -key "${PKI_DIR}/${name}.key" -subj "${subj}" -out "${PKI_DIR}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${PKI_DIR}/${name}.csr" -CA "${PKI_DIR}/ca.crt" -CAkey "${PKI_DIR}/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "${ext}" -out "${PKI_DIR}/${name}.crt" 2>/dev/null
  rm -f "${PKI_DIR}/${name}.csr" "${ext}"
}

# kubeconfig FILE USER CERT_NAME SERVER: a kubeconfig with embedded credentials.
kubeconfig() {
  local file=$1 user=$2 cert=$3 server=$4
  cat >"${file}" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kcache-local
  cluster:
    server: ${server}
    certificate-authority-data: $(base64 -w0 "${PKI_DIR}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 "${PKI_DIR}/${cert}.crt")
    client-key-data: $(base64 -w0 "${PKI_DIR}/${cert}.key")
contexts:
- name: kcache-local
  context: {cluster: kcache-local, user: ${user}}
current-context: kcache-local
KC
  chmod 600 "${file}"
}

pki_all() {
  mkdir -p "${PKI_DIR}"
  chmod 700 "${PKI_DIR}"
  pki_ca
  local apiserver_san="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  apiserver_san+=",DNS:kubernetes.default.svc.${CLUSTER_DOMAIN},DNS:localhost"
  apiserver_san+=",IP:${APISERVER_SERVICE_IP},IP:${APISERVER_IP},IP:127.0.0.1"
  pki_cert apiserver "/CN=kube-apiserver" server "${apiserver_san}"
  pki_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  pki_cert admin "/O=system:masters/CN=kubernetes-admin" client
  pki_cert controller-manager "/CN=system:kube-controller-manager" client
  pki_cert scheduler "/CN=system:kube-scheduler" client
  pki_cert kube-proxy "/CN=system:kube-proxy" client
  if [[ ! -f ${PKI_DIR}/sa.key ]]; then
    openssl genrsa -out "${PKI_DIR}/sa.key" 2048 2>/dev/null
    openssl rsa -in "${PKI_DIR}/sa.key" -pubout -out "${PKI_DIR}/sa.pub" 2>/dev/null
  fi
  local server="https://${APISERVER_IP}:${APISERVER_PORT}"
  kubeconfig "${KUBECONFIG_ADMIN}" kubernetes-admin admin "${server}"
  kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" system:kube-controller-manager controller-manager "${server}"
  kubeconfig "${STATE_DIR}/scheduler.kubeconfig" system:kube-scheduler scheduler "${server}"
  kubeconfig "${STATE_DIR}/kube-proxy.kubeconfig" system:kube-proxy kube-proxy "${server}"
}

# pki_node: the current node's kubelet identity (system:node:NAME, which the
# Node authorizer ties to that node) and serving certificate, and its kubeconfig.
pki_node() {
  mkdir -p "${NODE_DIR}"
  pki_cert "kubelet-${NODE_NAME}" "/O=system:nodes/CN=system:node:${NODE_NAME}" server "DNS:${NODE_NAME},IP:${NODE_IP}"
  kubeconfig "${NODE_DIR}/kubelet.kubeconfig" "system:node:${NODE_NAME}" "kubelet-${NODE_NAME}" \
    "https://${APISERVER_IP}:${APISERVER_PORT}"
}
