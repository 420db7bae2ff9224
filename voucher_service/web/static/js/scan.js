// The expert's scanner: the camera reads the cheque's QR code, then the page opens the
// cheque's /r/... address on this site. BarcodeDetector when the browser has it, else the
// vendored jsQR (loaded from /static only when needed). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var script = document.currentScript;
  var start = document.getElementById("scan-start");
  var zone = document.getElementById("scan-zone");
  var video = document.getElementById("scan-video");
  var stop = document.getElementById("scan-stop");
  var status = document.getElementById("scan-status");
  if (!start || !video) { return; }
  var stream = null;
  var running = false;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });

  function say(message) { status.textContent = message; }

  // Only an address on this very site, of the form /r/<token>: never navigate elsewhere.
  function chequePath(text) {
    var url;
    try { url = new URL(text.trim(), window.location.href); } catch (e) { return null; }
    if (url.origin !== window.location.origin) { return null; }
    if (!/^\/r\/[^/]+$/.test(url.pathname)) { return null; }
    return url.pathname;
  }

  function found(text) {
    var path = chequePath(text);
    if (!path) {
      say("Ce QR code n'est pas celui d'un chèque « Mon coach digital » de ce site.");
      return false;
    }
    say("Chèque lu, ouverture…");
    halt();
    window.location.assign(path);
    return true;
  }

  function halt() {
    running = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    zone.hidden = true;
    start.hidden = false;
  }

  function loadJsQR() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) { resolve(window.jsQR); return; }
      var tag = document.createElement("script");
      tag.src = script.getAttribute("data-jsqr");
      tag.onload = function () { resolve(window.jsQR); };
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
  }

  function detector() {
    if ("BarcodeDetector" in window) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") < 0) { throw new Error("no qr"); }
        var native = new window.BarcodeDetector({ formats: ["qr_code"] });
        return function () {
          return native.detect(video).then(function (codes) {
            return codes.length ? codes[0].rawValue : null;
          });
        };
      }).catch(fallback);
    }
    return fallback();
  }

  function fallback() {
    return loadJsQR().then(function (jsQR) {
      return function () {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) { return Promise.resolve(null); }
        canvas.width = w; canvas.height = h;
        context.drawImage(video, 0, 0, w, h);
        var code = jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
        return Promise.resolve(code ? code.data : null);
      };
    });
  }

  function loop(read) {
    if (!running) { return; }
    read().then(function (text) {
      if (text && found(text)) { return; }
      window.setTimeout(function () { loop(read); }, 200);
    }, function () { window.setTimeout(function () { loop(read); }, 400); });
  }

  start.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("Ce navigateur ne donne pas accès à la caméra : saisissez le code du chèque ci-dessous.");
      return;
    }
    say("Ouverture de la caméra…");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        zone.hidden = false;
        start.hidden = true;
        running = true;
        return video.play().then(detector).then(function (read) {
          say("Visez le QR code du chèque.");
          loop(read);
        });
      })
      .catch(function () {
        halt();
        say("Impossible d'utiliser la caméra (autorisation refusée ou absente) : saisissez le code du chèque ci-dessous.");
      });
  });
  stop.addEventListener("click", function () { halt(); say(""); });
  start.hidden = false;
})();
