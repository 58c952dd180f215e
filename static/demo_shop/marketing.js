/* Stands for a marketing embed: sets its cookie on the shop's origin. */
document.cookie = '_gcl_au=demo.' + Date.now() + '; Max-Age=7776000; Path=/; SameSite=Lax';
