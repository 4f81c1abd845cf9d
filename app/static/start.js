// An invitation's link carries its access code after "#", the part of an address browsers never
// send to a server (so no server or proxy log holds it): put it in the field, then take it off
// the address so it is not kept in the history.
(function () {
  var match = /^#code=([A-Za-z0-9-]{1,64})$/.exec(window.location.hash);
  var field = document.getElementById("code");
  if (!match || !field) {
    return;
  }
  field.value = match[1];
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
})();
