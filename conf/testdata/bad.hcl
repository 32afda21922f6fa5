# Three mistakes; `tandem check` reports all of them at once.

node "director1" { priority = 150 }
node "director2" {}

vrrp "public" {
  vrid      = 51
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
}

virtual_server "web" {
  address = "203.0.113.10:80"

  real_server "rs1" {
    adress = "192.168.100.11:80"
  }
  real_server "rs2" {
    address = "192.168.100.12:80"
  }
  real_server "rs3" {
    address = "192.168.100.12:80"
  }
  real_server "rs4" {
    address = "192.168.100.300:80"
  }
}
