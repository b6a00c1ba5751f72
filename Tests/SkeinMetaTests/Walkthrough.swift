// The NADs and pod annotation of shared/seed/multus-walkthrough.txt, byte for byte as users apply
// them (indentation included): these must keep working unchanged.

enum Walkthrough {
    static let macvlanConf = """
        apiVersion: "k8s.cni.cncf.io/v1"
        kind: NetworkAttachmentDefinition
        metadata:
          name: macvlan-conf
        spec:
          config: '{
              "cniVersion": "0.3.0",
              "type": "macvlan",
              "master": "enp0s9",
              "mode": "bridge",
              "ipam": {
                "type": "host-local",
                "subnet": "172.17.9.0/24",
                "rangeStart": "172.17.9.240",
                "rangeEnd": "172.17.9.250",
                "routes": [
                  { "dst": "0.0.0.0/0" }
                ],
                "gateway": "172.17.9.1"
              }
            }'
        """

    static let bridgeConf = """
        apiVersion: "k8s.cni.cncf.io/v1"
        kind: NetworkAttachmentDefinition
        metadata:
          name: bridge-conf
        spec:
          config: '{
              "cniVersion": "0.3.1",
              "type": "bridge",
              "bridge": "mybr0",
              "ipam": {
                  "type": "host-local",
                  "subnet": "192.168.12.0/24",
                  "rangeStart": "192.168.12.10",
                  "rangeEnd": "192.168.12.200"
              }
            }'
        """

    static let hostDevice = """
        apiVersion: "k8s.cni.cncf.io/v1"
        kind: NetworkAttachmentDefinition
        metadata:
          name: host-device
        spec:
          config: '{
              "cniVersion": "0.3.1",
              "name": "host-device-main",
              "type": "host-device",
              "device": "enp0s9",
              "ipam": {
                  "type": "dhcp"
              }
            }'
        """

    static let ipvlan = """
        apiVersion: "k8s.cni.cncf.io/v1"
        kind: NetworkAttachmentDefinition
        metadata:
          name: ipvlan
        spec:
          config: '{
           "cniVersion": "0.3.1",
           "name": "ipvlan-main",
           "type": "ipvlan",
           "mode": "l2",
           "master": "enp0s9",
             "ipam": {
                  "type": "host-local",
                  "subnet": "172.17.9.0/24",
                  "rangeStart": "172.17.9.201",
                  "rangeEnd": "172.17.9.205",
                  "gateway": "172.17.9.1"
             }
           }'
        """

    static let macvlan = """
        apiVersion: "k8s.cni.cncf.io/v1"
        kind: NetworkAttachmentDefinition
        metadata:
          name: macvlan
        spec:
          config: '{
            "cniVersion": "0.3.1",
            "name": "macvlan-main",
            "type": "macvlan",
            "mode": "bridge",
            "master": "enp0s9",
              "ipam": {
                    "type": "static"
              }
            }'
        """

    static let ipvlanDef = """
        apiVersion: "k8s.cni.cncf.io/v1"
        kind: NetworkAttachmentDefinition
        metadata:
          name: ipvlan-def
        spec:
          config: '{
              "cniVersion": "0.3.1",
              "type": "ipvlan",
              "master": "enp0s9",
              "mode": "l2",
              "ipam": {
                "type": "host-local",
                "subnet": "192.168.200.0/24",
                "rangeStart": "192.168.200.201",
                "rangeEnd": "192.168.200.205",
                "gateway": "192.168.200.1"
              }
            }'
        """

    static let all = [macvlanConf, bridgeConf, hostDevice, ipvlan, macvlan, ipvlanDef]

    /// net-pod's and net-pod2's annotation.
    static let podAnnotations = ["k8s.v1.cni.cncf.io/networks": "ipvlan-def"]
}
