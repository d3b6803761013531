# Sourced by bench/idle-rss and scripts/hot-functions: every `avp serve` kind with the arguments a
# platform would give it, listening on $work/KIND.sock and left idle. Needs $work (a scratch directory).
# idle_server[KIND] holds the arguments after `avp serve`; idle_server_kinds lists the kinds in order.
truncate -s 64M "$work/disk.img"
printf '21500\n' > "$work/temp1_input"
declare -A idle_server=(
    [entropy]="entropy --socket $work/entropy.sock"
    [block]="block --socket $work/block.sock --file $work/disk.img"
    [console]="console --socket $work/console.sock --attach $work/attach.sock --log $work/console.log"
    [crypto]="crypto --socket $work/crypto.sock"
    [gpio]="gpio --socket $work/gpio.sock --line door --line lamp"
    [gpu]="gpu --socket $work/gpu.sock"
    [i2c]="i2c --socket $work/i2c.sock --target temperature@0x48:21.5"
    [input]="input --socket $work/input.sock"
    [scmi]="scmi --socket $work/scmi.sock --sensor name=board,unit=celsius,file=$work/temp1_input"
    [sound]="sound --socket $work/sound.sock --tone 440"
    [switch]="switch --port name=a,listen=$work/switch.sock,mac=52:54:00:12:34:56"
    [vsock]="vsock --vm name=a,cid=3,listen=$work/vsock.sock,uds=$work/vsock-host.sock"
)
idle_server_kinds=(entropy block console crypto gpio gpu i2c input scmi sound switch vsock)
