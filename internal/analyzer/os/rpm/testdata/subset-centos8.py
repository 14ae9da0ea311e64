import struct,sys
lines=open('/tmp/c8.hex').read().split('\n')
hdr=[];i=0
while lines[i]!='HEADER=END': hdr.append(lines[i]); i+=1
hdr.append(lines[i]); i+=1
recs=[]
while lines[i]!='DATA=END':
    recs.append((lines[i],lines[i+1])); i+=2
def tags(b):
    il,dl=struct.unpack('>ii',b[:8]); ds=8+16*il; out={}
    for k in range(il):
        t,ty,off,cnt=struct.unpack('>iIiI',b[8+16*k:24+16*k])
        if ty==6: out[t]=b[ds+off:b.index(b'\0',ds+off)].decode()
        if ty==4 and t==1003: out[t]=struct.unpack('>i',b[ds+off:ds+off+4])[0]
    return out
sel=[];info=[]
for k,v in recs:
    b=bytes.fromhex(v.strip())
    if len(b)<8: 
        sel.append((k,v)); continue   # non-header records (e.g. key 0)
    t=tags(b)
    name=t.get(1000); mod=t.get(5096,''); ep=t.get(1003)
    info.append((name,ep,t.get(1001),t.get(1002),mod))
    keep = mod!='' or name in ('gpg-pubkey','bash','glibc','openssl-libs','perl-Scalar-List-Utils','cups-libs','python3-libs','platform-python','rpm','centos-release','curl','libcurl','systemd','dbus','tzdata') 
    if keep: sel.append((k,v))
print(len(recs), len(sel), file=sys.stderr)
open('/tmp/c8-small.hex','w').write('\n'.join(hdr+[x for kv in sel for x in kv]+['DATA=END',''])) 
for x in sorted(info, key=lambda r: r[0]):
    if x[4] or x[1]: print(x, file=sys.stderr)
