/// The web view's HTML: each display as an image that the page replaces with the next
/// composed frame as soon as there is one (a long poll on `/display/NAME.png?after=G`).
/// The first frame is a plain `<img src>`, so the page's load event (and a headless
/// browser's screenshot) waits for it.
enum WebViewPage {
    struct Display {
        var name: String
        var width: Int
        var height: Int
        var generation: UInt64
    }

    /// `token`: touches are taken (the pages send them with it), nil: look only.
    static func index(title: String, displays: [Display], token: String?) -> String {
        let sections = displays.map { d in
            """
            <section><h2>\(html(d.name)) <small>\(d.width)×\(d.height)</small> <a href="/view/\(url(d.name))">alone</a></h2>
            \(image(d))<p class="status" id="status-\(html(d.name))">frame \(d.generation)</p></section>
            """
        }.joined(separator: "\n")
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>\(html(title))</title><style>
            body{margin:0 16px;background:#1e1f22;color:#e3e3e3;font:14px system-ui,sans-serif}
            h1{font-size:20px} h2{font-size:16px;margin:16px 0 6px} small{color:#9aa0a6;font-weight:normal} a{color:#8ab4f8}
            img{display:block;max-width:100%;border:1px solid #444;background:#000} .status{color:#9aa0a6;margin:4px 0}
            .bad{color:#f28b82}
            </style></head><body\(tokenAttribute(token))><h1>\(html(title))</h1>
            \(displays.isEmpty ? "<p>This platform has no displays.</p>" : sections)
            <script>\(script)
            async function safety(){for(;;){try{const r=await fetch('/displays.json',{cache:'no-store'});for(const d of await r.json()){
            const el=document.getElementById('status-'+d.name);if(!el)continue;const failed=(d.safety||[]).filter(s=>s.mismatches>0);
            el.textContent='frame '+d.generation+(d.safety&&d.safety.length?' · safety regions: '+d.safety.map(s=>'layer '+s.layer+
            ' region '+s.region+' '+s.mismatches+'/'+s.checks+' failed').join(', '):'');el.className='status'+(failed.length?' bad':'');}}
            catch(e){}await new Promise(r=>setTimeout(r,1000));}}
            safety();
            </script></body></html>
            """
    }

    /// One display alone, unscaled at the top left, on black: what the display shows.
    static func single(title: String, display: Display, token: String?) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><title>\(html(display.name)) · \(html(title))</title>
        <style>html,body{margin:0;padding:0;background:#000;overflow:hidden} img{display:block}</style></head>
        <body\(tokenAttribute(token))>\(image(display))<script>\(script)</script></body></html>
        """
    }

    private static func tokenAttribute(_ token: String?) -> String {
        token.map { " data-token=\"\(html($0))\"" } ?? ""
    }

    private static func image(_ d: Display) -> String {
        "<img class=\"live\" src=\"/display/\(url(d.name)).png\" width=\"\(d.width)\" height=\"\(d.height)\" data-name=\"\(html(d.name))\" data-generation=\"\(d.generation)\" alt=\"display \(html(d.name))\">"
    }

    /// Keeps every `img.live` current: asks for a frame newer than the one shown, shows it,
    /// asks again; after an error (server restarting) waits a second.
    private static let script = """
        async function live(img){let gen=img.dataset.generation;for(;;){try{
        const r=await fetch('/display/'+encodeURIComponent(img.dataset.name)+'.png?after='+gen,{cache:'no-store'});
        if(!r.ok)throw new Error(r.status);gen=r.headers.get('X-Generation')||gen;const url=URL.createObjectURL(await r.blob());
        const old=img.src;img.src=url;if(old.startsWith('blob:'))URL.revokeObjectURL(old);
        await new Promise(r=>setTimeout(r,100));}catch(e){await new Promise(r=>setTimeout(r,1000));}}}
        document.querySelectorAll('img.live').forEach(live);
        const token=document.body.dataset.token;
        let sending=Promise.resolve();
        function touches(img){const contacts=new Map();img.draggable=false;img.style.touchAction='none';
        const send=line=>{sending=sending.then(()=>fetch('/touch/'+encodeURIComponent(img.dataset.name),
        {method:'POST',headers:{'X-AVP-Token':token},body:line}).catch(()=>{}));};
        const at=e=>{const r=img.getBoundingClientRect();const w=img.naturalWidth||img.width,h=img.naturalHeight||img.height;
        return [Math.max(0,Math.min(w-1,Math.floor((e.clientX-r.left)*w/r.width))),Math.max(0,Math.min(h-1,Math.floor((e.clientY-r.top)*h/r.height)))];};
        img.addEventListener('pointerdown',e=>{const used=[...contacts.values()];const c=[0,1,2,3,4,5,6,7,8,9].find(k=>!used.includes(k));
        if(c===undefined)return;contacts.set(e.pointerId,c);img.setPointerCapture(e.pointerId);const [x,y]=at(e);send('touch '+x+' '+y+' '+c);e.preventDefault();});
        img.addEventListener('pointermove',e=>{const c=contacts.get(e.pointerId);if(c===undefined)return;const [x,y]=at(e);send('move '+x+' '+y+' '+c);});
        const up=e=>{const c=contacts.get(e.pointerId);if(c===undefined)return;contacts.delete(e.pointerId);send('release '+c);};
        img.addEventListener('pointerup',up);img.addEventListener('pointercancel',up);}
        if(token)document.querySelectorAll('img.live').forEach(touches);
        """

    static func html(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func url(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || [0x2D, 0x2E, 0x5F, 0x7E].contains(byte) {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
